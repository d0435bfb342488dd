#!/usr/bin/env python3
"""Generate the Palisade demo CRM data set.

Writes one JSON file per table declared in ``data/schema.toml`` next to this
script (``data/demo/<table>.json``).  Each file is a JSON array of row objects
with sorted keys, 2-space indentation, UTF-8 (non-ASCII kept as is) and a
trailing newline.  Every row carries every declared column (optional columns
are sometimes ``null``) plus an integer ``id`` numbered 1..N.

Row counts:

    clients 60, contacts 150, invoices 220, invoice_items 600,
    leads 90, tickets 120, staff 25, options 20

What is in it: invented companies and people in the UK, US, Germany, France,
the Netherlands, Norway, Spain, Italy, Ireland, Canada and Australia, with
street, postcode, city and phone formats that belong to each country; 2025
invoices whose ``total`` equals the sum of quantity * unit_price *
(1 + tax_rate) of their items; support tickets with realistic free text; staff
with fake argon2id hashes, IBANs with valid check digits and format-plausible
national ids; and the ``options`` of a CRM install.  Everything is fictional.
UK, US and Australian phone numbers use the ranges reserved for drama/fiction
(020 7946 0xxx, 555-01xx, 5550 xxxx and 0491 570 xxx).

Reproducible: one ``random.Random(20251125)``, a fixed "today" of
2025-11-25, no clock and no environment input, so two runs produce
byte-identical files.  Standard library only (Python 3.11+, for ``tomllib``).

Usage (from the repository root, or anywhere):

    python3 data/demo/generate.py          # generate, validate, write files
    python3 data/demo/generate.py --check  # only validate the existing files

Before writing, every row is validated against data/schema.toml (declared
columns only, required columns non-null, value types, ``references``
pointing at existing ids, contiguous ids) plus the demo's own invariants
(invoice totals, status counts, one primary contact per client, ...).  The
script exits with status 1 and writes nothing if any check fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sys
import tomllib
import unicodedata
from decimal import Decimal
from pathlib import Path
from random import Random

SEED = 20251125
AS_OF = dt.date(2025, 11, 25)  # the demo's "today"; never the real clock
HERE = Path(__file__).resolve().parent
SCHEMA_PATH = HERE.parent / "schema.toml"

COUNTS = {
    "clients": 60,
    "contacts": 150,
    "invoices": 220,
    "invoice_items": 600,
    "leads": 90,
    "tickets": 120,
    "staff": 25,
    "options": 20,
}

rng = Random(SEED)

# --------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------

# Per country: display name, cities -> (phone area code, [(street, postcode)]).
COUNTRIES = {
    "GB": {
        "name": "United Kingdom",
        "cities": {
            "London": ("20", [("Shoreditch High Street", "E1 6JE"), ("Borough High Street", "SE1 1LB"),
                              ("Old Street", "EC1V 9HL"), ("Kensington High Street", "W8 5SA"),
                              ("Upper Street", "N1 0PN"), ("Canada Square", "E14 5AB")]),
            "Manchester": ("161", [("Deansgate", "M3 4LQ"), ("Oxford Road", "M1 5QA"), ("Portland Street", "M1 3LA")]),
            "Bristol": ("117", [("Whiteladies Road", "BS8 2PH"), ("Temple Way", "BS1 6HG"), ("Park Street", "BS1 5NT")]),
            "Leeds": ("113", [("Wellington Street", "LS1 4LT"), ("The Headrow", "LS1 8TL")]),
            "Edinburgh": ("131", [("George Street", "EH2 2LR"), ("Leith Walk", "EH6 8NP"), ("Rose Street", "EH2 2PR")]),
        },
    },
    "US": {
        "name": "United States",
        "cities": {
            "New York": ("212", [("Broadway", "10012"), ("West 34th Street", "10001"), ("Madison Avenue", "10016"),
                                 ("Water Street", "10038")]),
            "San Francisco": ("415", [("Market Street", "94103"), ("Mission Street", "94105"), ("Valencia Street", "94110")]),
            "Chicago": ("312", [("North Michigan Avenue", "60611"), ("West Randolph Street", "60607"),
                                ("South Wacker Drive", "60606")]),
            "Austin": ("512", [("Congress Avenue", "78701"), ("South Lamar Boulevard", "78704")]),
            "Boston": ("617", [("Boylston Street", "02116"), ("Atlantic Avenue", "02110")]),
            "Seattle": ("206", [("Pike Street", "98101"), ("Westlake Avenue North", "98109")]),
        },
    },
    "DE": {
        "name": "Germany",
        "cities": {
            "Berlin": ("30", [("Friedrichstraße", "10117"), ("Torstraße", "10119"), ("Kurfürstendamm", "10719"),
                              ("Oranienstraße", "10999")]),
            "München": ("89", [("Leopoldstraße", "80802"), ("Sendlinger Straße", "80331"), ("Landsberger Straße", "80339")]),
            "Hamburg": ("40", [("Große Elbstraße", "22767"), ("Mönckebergstraße", "20095"), ("Schanzenstraße", "20357")]),
            "Frankfurt am Main": ("69", [("Hanauer Landstraße", "60314"), ("Mainzer Landstraße", "60329"),
                                         ("Berger Straße", "60316")]),
            "Köln": ("221", [("Venloer Straße", "50672"), ("Ehrenstraße", "50672"), ("Deutz-Mülheimer Straße", "51063")]),
        },
    },
    "FR": {
        "name": "France",
        "cities": {
            "Paris": ("1", [("rue de Rivoli", "75001"), ("boulevard Haussmann", "75009"),
                            ("rue du Faubourg Saint-Antoine", "75011"), ("avenue de France", "75013")]),
            "Lyon": ("4", [("rue de la République", "69002"), ("cours Lafayette", "69003")]),
            "Marseille": ("4", [("La Canebière", "13001"), ("rue Paradis", "13006")]),
            "Toulouse": ("5", [("rue d'Alsace-Lorraine", "31000"), ("allée Jean Jaurès", "31000")]),
            "Bordeaux": ("5", [("cours de l'Intendance", "33000"), ("quai des Chartrons", "33300")]),
        },
    },
    "NL": {
        "name": "Netherlands",
        "cities": {
            "Amsterdam": ("20", [("Keizersgracht", "1015 CJ"), ("Herengracht", "1017 BT"), ("Damrak", "1012 LG"),
                                 ("Wibautstraat", "1091 GH")]),
            "Rotterdam": ("10", [("Coolsingel", "3012 AA"), ("Witte de Withstraat", "3012 BN"),
                                 ("Wilhelminakade", "3072 AP")]),
            "Utrecht": ("30", [("Oudegracht", "3511 AP"), ("Biltstraat", "3572 AW")]),
            "Eindhoven": ("40", [("Stratumseind", "5611 ET"), ("Kennedyplein", "5611 ZS")]),
        },
    },
    "NO": {
        "name": "Norway",
        "cities": {
            "Oslo": ("2", [("Karl Johans gate", "0154"), ("Storgata", "0184"), ("Bygdøy allé", "0262"),
                           ("Dronning Eufemias gate", "0191")]),
            "Bergen": ("55", [("Bryggen", "5003"), ("Strandgaten", "5013")]),
            "Trondheim": ("73", [("Munkegata", "7011"), ("Kongens gate", "7011")]),
            "Stavanger": ("51", [("Kirkegata", "4006"), ("Løkkeveien", "4008")]),
        },
    },
    "ES": {
        "name": "Spain",
        "cities": {
            "Madrid": ("91", [("Calle de Alcalá", "28014"), ("Gran Vía", "28013"), ("Calle de Serrano", "28001"),
                              ("Paseo de la Castellana", "28046")]),
            "Barcelona": ("93", [("Passeig de Gràcia", "08007"), ("Carrer de Balmes", "08006"),
                                 ("Avinguda Diagonal", "08019")]),
            "Valencia": ("96", [("Calle de Colón", "46004"), ("Avenida del Puerto", "46021")]),
            "Sevilla": ("95", [("Calle Sierpes", "41004"), ("Avenida de la Constitución", "41001")]),
        },
    },
    "IT": {
        "name": "Italy",
        "cities": {
            "Roma": ("06", [("Via del Corso", "00186"), ("Via Nazionale", "00184"), ("Viale di Trastevere", "00153")]),
            "Milano": ("02", [("Corso Buenos Aires", "20124"), ("Via Monte Napoleone", "20121"), ("Viale Monza", "20127")]),
            "Torino": ("011", [("Via Roma", "10123"), ("Corso Vittorio Emanuele II", "10128")]),
            "Bologna": ("051", [("Via dell'Indipendenza", "40121"), ("Via Zamboni", "40126")]),
        },
    },
    "IE": {
        "name": "Ireland",
        "cities": {
            "Dublin": ("1", [("Merrion Square", "D02 VR66"), ("Grand Canal Street Upper", "D04 Y7R5"),
                             ("Thomas Street", "D08 W2K6"), ("Baggot Street Lower", "D02 F634")]),
            "Cork": ("21", [("Oliver Plunkett Street", "T12 K2X4"), ("South Mall", "T12 RX67")]),
            "Galway": ("91", [("Shop Street", "H91 DK22"), ("Dock Road", "H91 TX4C")]),
        },
    },
    "CA": {
        "name": "Canada",
        "cities": {
            "Toronto": ("416", [("King Street West", "M5V 1J5"), ("Queen Street East", "M5A 1S2"), ("Bay Street", "M5J 2T3")]),
            "Vancouver": ("604", [("West Hastings Street", "V6B 1H7"), ("Granville Street", "V6Z 1K9")]),
            "Montréal": ("514", [("Rue Sainte-Catherine Ouest", "H3B 1A7"), ("Boulevard Saint-Laurent", "H2X 2T3")]),
            "Calgary": ("403", [("Stephen Avenue SW", "T2P 1J9"), ("17 Avenue SW", "T2S 0A1")]),
        },
    },
    "AU": {
        "name": "Australia",
        "cities": {
            "Sydney": ("2", [("George Street", "2000"), ("Pitt Street", "2000"), ("Crown Street", "2010")]),
            "Melbourne": ("3", [("Collins Street", "3000"), ("Chapel Street", "3141"), ("Flinders Lane", "3000")]),
            "Brisbane": ("7", [("Queen Street", "4000"), ("Eagle Street", "4000")]),
            "Perth": ("8", [("St Georges Terrace", "6000"), ("Hay Street", "6000")]),
        },
    },
}

FIRST_NAMES = {
    "GB": ["Oliver", "Amelia", "James", "Charlotte", "Harry", "Priya", "Mohammed", "Emily", "Thomas", "Sophie",
           "Daniel", "Hannah", "Aisha", "George", "Olivia", "Rajesh", "Grace", "William", "Chloe", "Samuel"],
    "US": ["Michael", "Jennifer", "David", "Jessica", "Christopher", "Ashley", "Marcus", "Emily", "Brian",
           "Kimberly", "José", "Maria", "Tyler", "Lauren", "Kevin", "Megan", "Andre", "Rachel"],
    "DE": ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Sophie", "Maximilian", "Marie", "Jürgen", "Katrin",
           "Stefan", "Sabine", "Tobias", "Julia", "Mehmet", "Ayşe", "Dirk", "Claudia"],
    "FR": ["Camille", "Louis", "Léa", "Hugo", "Manon", "Julien", "Chloé", "Nicolas", "Inès", "Thomas",
           "Céline", "Antoine", "Élodie", "Mathieu", "Sarah", "Karim", "Jean-Luc", "Anne-Sophie"],
    "NL": ["Daan", "Emma", "Sem", "Sanne", "Lars", "Fleur", "Bram", "Lotte", "Ruben", "Anouk", "Thijs", "Eva",
           "Joost", "Marloes"],
    "NO": ["Ole", "Ingrid", "Lars", "Kari", "Magnus", "Silje", "Henrik", "Ingeborg", "Sindre", "Astrid",
           "Øystein", "Marte", "Bjørn", "Solveig"],
    "ES": ["José", "María", "Antonio", "Carmen", "Javier", "Lucía", "Alejandro", "Laura", "Pablo", "Marta",
           "Sergio", "Elena", "Diego", "Nuria", "Álvaro", "Inés"],
    "IT": ["Marco", "Giulia", "Alessandro", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Giovanni",
           "Elena", "Davide", "Valentina", "Federico", "Martina"],
    "IE": ["Seán", "Aoife", "Conor", "Siobhán", "Ciarán", "Niamh", "Patrick", "Róisín", "Darragh", "Saoirse",
           "Eoin", "Orla", "Cian", "Gráinne"],
    "CA": ["Liam", "Emma", "Noah", "Olivia", "Étienne", "Chloé", "Jacob", "Mia", "Mathieu", "Ava", "Ethan",
           "Gabrielle", "Raj", "Mei"],
    "AU": ["Jack", "Charlotte", "William", "Olivia", "Lachlan", "Isla", "Cooper", "Matilda", "Thomas", "Ruby",
           "Linh", "Hamish", "Zoe", "Arjun"],
}

LAST_NAMES = {
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Patel", "Khan", "Walker",
           "Wright", "Thompson", "Hughes", "Clarke", "Hall", "Green", "Ahmed", "Robinson", "McAllister",
           "Fitzgerald", "O'Brien"],
    "US": ["Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Anderson", "Thomas", "Jackson",
           "White", "Harris", "Lee", "Kim", "Nguyen", "D'Angelo", "Washington", "Cohen", "Murphy"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
           "Hoffmann", "Koch", "Richter", "Wolf", "Schröder", "Neumann", "Yılmaz", "Krüger", "Zimmermann"],
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
           "Lefèvre", "Girard", "Bonnet", "Fontaine", "Chevalier", "Benali", "D'Arcy"],
    "NL": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit", "Meijer",
           "de Boer", "Mulder", "Bos", "Vos", "Peters"],
    "NO": ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Berg",
           "Haugen", "Hagen", "Dahl", "Solberg", "Bakken", "Lie", "Sæther"],
    "ES": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
           "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Álvarez"],
    "IT": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
           "Bruno", "Gallo", "Conti", "De Luca", "D'Angelo", "Lombardi"],
    "IE": ["O'Brien", "Murphy", "Kelly", "O'Sullivan", "Walsh", "O'Connor", "Byrne", "Ryan", "McCarthy",
           "O'Neill", "Doyle", "Gallagher", "Kennedy", "Lynch"],
    "CA": ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Smith", "Brown", "Wilson", "MacDonald", "Wong",
           "Singh", "Campbell", "Lavoie", "Chen"],
    "AU": ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Tran", "Kelly", "Ryan",
           "Walker", "Harris", "Mitchell", "O'Connell"],
}

# (company, country, pinned city or None)
CLIENT_COMPANIES = [
    ("Harbor Logistics Ltd", "GB", "London"), ("Drop Zone Ltd", "GB", "Manchester"),
    ("Thames Valley Print Ltd", "GB", "London"), ("Kestrel Analytics Ltd", "GB", "Leeds"),
    ("Ashworth & Cole LLP", "GB", "London"), ("Pennine Outdoor Supplies Ltd", "GB", "Manchester"),
    ("Greenway Dental Practice", "GB", "Bristol"), ("Bramble & Finch Ltd", "GB", "Edinburgh"),
    ("Castlegate Property Management", "GB", None),
    ("Union Pacific Supplies", "US", "Chicago"), ("Select Comfort Interiors", "US", "Austin"),
    ("D'Angelo & Sons", "US", "New York"), ("Redwood Data Systems Inc.", "US", "San Francisco"),
    ("Lakeshore Dental Group", "US", "Chicago"), ("Copper Kettle Coffee Co.", "US", "Seattle"),
    ("Brightline Media LLC", "US", "New York"), ("Summit Ridge Capital", "US", "Boston"),
    ("Nordlicht Software GmbH", "DE", "Berlin"), ("Müller & Schmidt Maschinenbau GmbH", "DE", "München"),
    ("Rheinwerk Logistik GmbH", "DE", "Köln"), ("Brandt Elektrotechnik KG", "DE", None),
    ("Alpenblick Hotels AG", "DE", "München"), ("Grünwald Architekten", "DE", "Frankfurt am Main"),
    ("Hafenkontor Hamburg GmbH", "DE", "Hamburg"),
    ("Atelier Lumière SARL", "FR", "Paris"), ("Dubois & Fils", "FR", "Lyon"),
    ("Vignobles Marchand SAS", "FR", "Bordeaux"), ("Lefèvre Conseil", "FR", "Paris"),
    ("Boulangerie L'Étoile", "FR", "Marseille"),
    ("Van der Berg Installatietechniek B.V.", "NL", "Utrecht"), ("Grachten Design B.V.", "NL", "Amsterdam"),
    ("Tulp Data B.V.", "NL", "Eindhoven"), ("De Vries & Bakker Advocaten", "NL", "Rotterdam"),
    ("Windmolen Energie B.V.", "NL", None),
    ("Blue Fjord AS", "NO", "Bergen"), ("Nordkapp Marine AS", "NO", "Trondheim"),
    ("Fjellstad Bygg AS", "NO", "Oslo"), ("Polarlys Energi AS", "NO", "Stavanger"),
    ("Soluciones Iberia S.L.", "ES", "Madrid"), ("García & Martín Abogados", "ES", "Madrid"),
    ("Olivares del Sur S.A.", "ES", "Sevilla"), ("Costa Brava Travel S.L.", "ES", "Barcelona"),
    ("Talleres Navarro S.L.", "ES", "Valencia"),
    ("Rossi Arredamenti S.r.l.", "IT", "Milano"), ("Bianchi & Ferri S.p.A.", "IT", "Torino"),
    ("Officina Verde S.r.l.", "IT", "Bologna"), ("Caffè dell'Arte S.r.l.", "IT", "Roma"),
    ("O'Brien Builders", "IE", "Cork"), ("Shamrock Software Ltd", "IE", "Dublin"),
    ("Liffey Analytics Ltd", "IE", "Dublin"), ("Kerrigan & O'Neill Solicitors", "IE", "Galway"),
    ("Maple Leaf Freight Inc.", "CA", "Calgary"), ("Northern Lights Dental", "CA", "Vancouver"),
    ("Tremblay & Gagnon Inc.", "CA", "Montréal"), ("Cedar Ridge Outfitters Ltd.", "CA", "Toronto"),
    ("Nguyen & Partners", "AU", "Melbourne"), ("Southern Cross Solar Pty Ltd", "AU", "Perth"),
    ("Bondi Creative Co.", "AU", "Sydney"), ("Kookaburra Coffee Roasters", "AU", "Brisbane"),
    ("Eucalypt Health Pty Ltd", "AU", "Sydney"),
]

LEAD_COMPANIES = [
    ("Mercer & Hale Ltd", "GB"), ("Northbridge Fitness", "GB"), ("Oakham Veterinary Group", "GB"),
    ("Pixel Forge Studios Ltd", "GB"), ("St. Clair Wealth Management", "GB"), ("Prairie Wind Farms", "US"),
    ("Hudson Yard Bakery", "US"), ("Blue Mesa Outfitters", "US"), ("Ironclad Security LLC", "US"),
    ("O'Malley's Pub Group", "US"), ("Sonnenschein Pflegedienst GmbH", "DE"), ("Weißbach Druck GmbH", "DE"),
    ("Kaiser Fahrradmanufaktur", "DE"), ("Elbtal Immobilien GmbH", "DE"), ("Maison Girard", "FR"),
    ("Côté Jardin SARL", "FR"), ("Transports Leclerc SAS", "FR"), ("Cabinet Moreau & Associés", "FR"),
    ("Fietsfabriek Utrecht B.V.", "NL"), ("Noordzee Visserij B.V.", "NL"), ("Studio Oranje", "NL"),
    ("Vestland Sjømat AS", "NO"), ("Tindra Design AS", "NO"), ("Midnattsol Reiser AS", "NO"),
    ("Clínica Dental Sonrisa", "ES"), ("Bodegas Herrera S.L.", "ES"), ("Estudio Mar Azul", "ES"),
    ("Pasticceria Conti", "IT"), ("Vetreria Murano Arte S.r.l.", "IT"), ("Studio Legale Greco", "IT"),
    ("Claddagh Crafts Ltd", "IE"), ("Atlantic Way Tours", "IE"), ("Fitzwilliam Finance Ltd", "IE"),
    ("Lakehead Timber Co.", "CA"), ("Poutine Palace Inc.", "CA"), ("Rideau Tech Solutions", "CA"),
    ("Outback Adventures Pty Ltd", "AU"), ("Harbourside Physio", "AU"), ("Red Gum Wines", "AU"),
    ("Union Square Florists", "US"), ("Drop Anchor Marine Ltd", "GB"),
]

FREE_MAIL = {
    "GB": ["gmail.com", "outlook.com", "yahoo.co.uk", "btinternet.com"],
    "US": ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"],
    "DE": ["gmx.de", "web.de", "t-online.de", "gmail.com"],
    "FR": ["orange.fr", "free.fr", "gmail.com", "laposte.net"],
    "NL": ["ziggo.nl", "kpnmail.nl", "gmail.com", "outlook.com"],
    "NO": ["online.no", "gmail.com", "hotmail.com"],
    "ES": ["gmail.com", "hotmail.es", "telefonica.net"],
    "IT": ["libero.it", "gmail.com", "virgilio.it"],
    "IE": ["eircom.net", "gmail.com", "outlook.com"],
    "CA": ["gmail.com", "outlook.com", "shaw.ca"],
    "AU": ["bigpond.com", "gmail.com", "outlook.com"],
}

JOB_TITLES_SENIOR = ["Managing Director", "CEO", "Founder", "Owner", "Chief Operating Officer", "CFO",
                     "Head of Operations", "General Manager", "Practice Manager", "Finance Director"]
JOB_TITLES_LOCAL = {
    "DE": ["Geschäftsführung", "Leitung Buchhaltung", "Leitung Einkauf"],
    "FR": ["Direction générale", "Responsable administratif et financier"],
    "NL": ["Directeur", "Office manager"],
    "NO": ["Daglig leder", "Økonomisjef"],
    "ES": ["Director General", "Gerente"],
    "IT": ["Amministratore Delegato", "Responsabile Acquisti"],
}
JOB_TITLES = ["Finance Manager", "Office Manager", "Accounts Payable Clerk", "IT Manager", "Procurement Lead",
              "Marketing Director", "Operations Coordinator", "Project Manager", "Head of Sales", "Bookkeeper",
              "HR Business Partner", "Chief Technology Officer", "Customer Success Lead", "Executive Assistant",
              "Purchasing Manager", "Controller", "Systems Administrator", "Head of Marketing"]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

# Standard VAT percentage used on invoices to clients in each country.  0 means
# zero-rated / reverse charge / outside the scope of VAT.
TAX_PCT = {"GB": 20, "FR": 20, "DE": 19, "NL": 21, "ES": 21, "NO": 25, "IT": 0, "IE": 0, "US": 0, "CA": 0,
           "AU": 0}
CURRENCY = {"GB": "GBP", "US": "USD", "CA": "USD", "AU": "USD"}  # everything else: EUR

OWNER = {
    "company": "Meridian Works Ltd",
    "domain": "meridian-works.com",
    "address": "41 Clerkenwell Road, London EC1M 5RS, UK",
}


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

TRANSLIT = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss", "ı": "i", "ł": "l", "Ł": "L",
                          "đ": "d", "œ": "oe", "Œ": "Oe", "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae",
                          "Ö": "Oe", "Ü": "Ue"})
LEGAL_SUFFIXES = {"ltd", "llp", "llc", "inc", "gmbh", "kg", "ag", "sarl", "sas", "bv", "as", "sl", "sa", "srl",
                  "spa", "pty", "co", "plc"}


def ascii_fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.translate(TRANSLIT))
    return text.encode("ascii", "ignore").decode("ascii")


def slugify(company: str) -> str:
    words = ascii_fold(company).lower().replace("&", " and ").replace("'", "").replace(".", "").split()
    words = [re.sub(r"[^a-z0-9]", "", w) for w in words]
    words = [w for w in words if w]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return "-".join(words)


def name_token(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", ascii_fold(name).lower().replace(" ", ""))


def digits(n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def maybe(value, p_null: float = 0.08):
    """Return value, or None with probability p_null (optional columns)."""
    return None if rng.random() < p_null else value


def rfc3339(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def rand_date(start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def business_datetime(day: dt.date) -> dt.datetime:
    """A time of day on `day`, mostly during office hours (UTC)."""
    if rng.random() < 0.85:
        secs = rng.randrange(7 * 3600, 18 * 3600)
    else:
        secs = rng.randrange(0, 24 * 3600)
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=secs)


def distribute(total: int, n: int, lo: int, hi: int, weights: list[int]) -> list[int]:
    """n integers in [lo, hi] drawn with `weights`, nudged so they sum to `total`."""
    values = rng.choices(range(lo, hi + 1), weights=weights, k=n)
    while sum(values) != total:
        i = rng.randrange(n)
        if sum(values) > total and values[i] > lo:
            values[i] -= 1
        elif sum(values) < total and values[i] < hi:
            values[i] += 1
    return values


def status_list(counts: dict[str, int]) -> list[str]:
    out = [s for s, c in counts.items() for _ in range(c)]
    rng.shuffle(out)
    return out


# ---- phone numbers --------------------------------------------------------

def office_phone(cc: str, city: str) -> str:
    area = COUNTRIES[cc]["cities"][city][0]
    intl = rng.random() < 0.7
    if cc == "GB":  # Ofcom drama ranges
        local = "7946 0" + digits(3) if area == "20" else "496 0" + digits(3)
        return f"+44 {area} {local}" if intl else f"0{area} {local}"
    if cc in ("US", "CA"):
        last = "01" + digits(2)
        return f"+1-{area}-555-{last}" if intl else f"({area}) 555-{last}"
    if cc == "DE":
        sub = str(rng.randrange(2, 10)) + digits(6 if len(area) == 3 else rng.choice([6, 7]))
        return f"+49 {area} {sub}" if intl else f"0{area} {sub}"
    if cc == "FR":
        pairs = " ".join(digits(2) for _ in range(4))
        return f"+33 {area} {pairs}" if intl else f"0{area} {pairs}"
    if cc == "NL":
        sub = f"{rng.randrange(2, 10)}{digits(2)} {digits(4)}"
        return f"+31 {area} {sub}" if intl else f"0{area} {sub}"
    if cc == "NO":
        d = area + digits(8 - len(area))
        return f"+47 {d[0:2]} {d[2:4]} {d[4:6]} {d[6:8]}"
    if cc == "ES":
        d = area + digits(7)
        return f"+34 {d[0:3]} {d[3:6]} {d[6:9]}"
    if cc == "IT":
        if len(area) == 2:
            return f"+39 {area} {digits(4)} {digits(4)}"
        return f"+39 {area} {digits(3)} {digits(4)}"
    if cc == "IE":
        sub = f"{rng.randrange(2, 10)}{digits(2)} {digits(4)}"
        return f"+353 {area} {sub}" if intl else f"0{area} {sub}"
    if cc == "AU":  # ACMA fiction range
        sub = rng.choice(["5550", "7010"]) + " " + digits(4)
        return f"+61 {area} {sub}" if intl else f"(0{area}) {sub}"
    raise ValueError(cc)


def mobile_phone(cc: str) -> str:
    if cc == "GB":
        return rng.choice(["+44 7700 900", "07700 900"]) + digits(3)
    if cc in ("US", "CA"):
        area = rng.choice([a for a, _ in COUNTRIES[cc]["cities"].values()])
        return f"+1-{area}-555-01{digits(2)}"
    if cc == "DE":
        return f"+49 {rng.choice(['151', '160', '170', '176'])} {digits(8)}"
    if cc == "FR":
        return f"+33 {rng.choice('67')} " + " ".join(digits(2) for _ in range(4))
    if cc == "NL":
        return f"+31 6 {digits(4)} {digits(4)}"
    if cc == "NO":
        return f"+47 {rng.choice('49')}{digits(2)} {digits(2)} {digits(3)}"
    if cc == "ES":
        return f"+34 6{digits(2)} {digits(3)} {digits(3)}"
    if cc == "IT":
        return f"+39 3{digits(2)} {digits(3)} {digits(4)}"
    if cc == "IE":
        return f"+353 8{rng.choice('35679')} {digits(3)} {digits(4)}"
    if cc == "AU":
        return rng.choice(["+61 491 570 ", "0491 570 "]) + rng.choice(["006", "156", "157", "158", "159", "110"])
    raise ValueError(cc)


# ---- identifiers ------------------------------------------------------------

def vat_number(cc: str, company: str) -> str | None:
    if cc == "US":
        return None  # no VAT in the US
    if cc == "GB":
        return "GB" + digits(9)
    if cc == "DE":
        return "DE" + str(rng.randrange(1, 4)) + digits(8)
    if cc == "FR":
        siren = int(str(rng.randrange(3, 9)) + digits(8))
        key = (12 + 3 * (siren % 97)) % 97
        return f"FR{key:02d}{siren}"
    if cc == "NL":
        return "NL" + digits(9) + "B01"
    if cc == "NO":
        return "NO" + str(rng.randrange(8, 10)) + digits(8) + "MVA"
    if cc == "ES":
        return "ES" + ("A" if "S.A." in company else "B") + digits(8)
    if cc == "IT":
        return "IT" + digits(11)
    if cc == "IE":
        return "IE" + digits(7) + rng.choice("ABCDEFHKLMPRTVWX") + rng.choice(["", "A", "H"])
    if cc == "CA":
        return digits(9) + "RT0001"
    if cc == "AU":  # ABN with a valid checksum
        while True:
            d = [rng.randrange(1, 10), rng.randrange(10)] + [rng.randrange(10) for _ in range(9)]
            w = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
            if sum(x * y for x, y in zip([d[0] - 1] + d[1:], w)) % 89 == 0:
                s = "".join(map(str, d))
                return f"ABN {s[0:2]} {s[2:5]} {s[5:8]} {s[8:11]}"
    raise ValueError(cc)


def iban(cc: str) -> str | None:
    if cc == "GB":
        bban = rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + digits(6) + digits(8)
    elif cc == "IE":
        bban = rng.choice(["AIBK", "BOFI"]) + digits(6) + digits(8)
    elif cc == "DE":
        bban = str(rng.randrange(1, 9)) + digits(7) + digits(10)
    elif cc == "NL":
        bban = rng.choice(["ABNA", "INGB", "RABO", "TRIO"]) + digits(10)
    elif cc == "FR":
        bank, branch, acct = digits(5), digits(5), digits(11)
        key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(acct)) % 97
        bban = f"{bank}{branch}{acct}{key:02d}"
    else:
        return None  # no IBAN outside the IBAN area
    numeric = "".join(str(int(ch, 36)) for ch in bban + cc + "00")
    check = 98 - int(numeric) % 97
    return f"{cc}{check:02d}{bban}"


def national_id(cc: str, birth: dt.date, female: bool) -> str:
    if cc == "GB":  # National Insurance number
        while True:
            pre = rng.choice("ABCEGHJKLMNOPRSTWXYZ") + rng.choice("ABCEGHJKLMNPRSTWXYZ")
            if pre not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
                return pre + digits(6) + rng.choice("ABCD")
    if cc == "US":  # SSN layout, area 9xx / group < 50: never issued
        return f"9{digits(2)}-{rng.randrange(10, 50)}-{digits(4)}"
    if cc == "DE":  # Steuer-ID with ISO 7064 MOD 11,10 check digit
        body = str(rng.randrange(1, 10)) + digits(9)
        product = 10
        for ch in body:
            s = (int(ch) + product) % 10 or 10
            product = (2 * s) % 11
        return body + str((11 - product) % 10)
    if cc == "NL":  # BSN passing the 11-test
        while True:
            d = [rng.randrange(10) for _ in range(9)]
            if d[0] and (sum(x * w for x, w in zip(d, [9, 8, 7, 6, 5, 4, 3, 2, -1])) % 11 == 0):
                return "".join(map(str, d))
    if cc == "IE":  # PPS number
        d = digits(7)
        total = sum(int(x) * w for x, w in zip(d, range(8, 1, -1)))
        return d + ("W" if total % 23 == 0 else chr(64 + total % 23))
    if cc == "FR":  # NIR / INSEE number with key
        body = f"{2 if female else 1}{birth.year % 100:02d}{birth.month:02d}{rng.randrange(1, 96):02d}{digits(3)}{digits(3)}"
        key = 97 - int(body) % 97
        return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {key:02d}"
    raise ValueError(cc)


def argon2_hash() -> str:
    def b64(n: int) -> str:
        return base64.b64encode(bytes(rng.randrange(256) for _ in range(n))).decode().rstrip("=")
    return f"$argon2id$v=19$m=19456,t=2,p=1${b64(16)}${b64(32)}"


def random_secret(n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def person(cc: str) -> tuple[str, str]:
    """A (first, last) name; mostly local to the country, sometimes international."""
    src = cc if rng.random() < 0.8 else rng.choice(sorted(FIRST_NAMES))
    first = rng.choice(FIRST_NAMES[src])
    src2 = src if rng.random() < 0.85 else rng.choice(sorted(LAST_NAMES))
    return first, rng.choice(LAST_NAMES[src2])


def street_address(cc: str, street: str) -> str:
    if cc in ("GB", "IE"):
        n = rng.randrange(1, 220)
        return f"Unit {rng.randrange(1, 12)}, {n} {street}" if rng.random() < 0.15 else f"{n} {street}"
    if cc in ("US", "CA"):
        base = f"{rng.randrange(100, 2600)} {street}"
        return base + f", Suite {rng.randrange(1, 30) * 100 + rng.randrange(0, 20)}" if rng.random() < 0.5 else base
    if cc == "FR":
        return f"{rng.randrange(1, 180)} {street}"
    if cc == "ES":
        base = f"{street} {rng.randrange(1, 160)}"
        return base + f", {rng.randrange(1, 8)}º {rng.choice('ABCD')}" if rng.random() < 0.5 else base
    if cc == "AU":
        base = f"{rng.randrange(1, 400)} {street}"
        return f"Level {rng.randrange(2, 30)}, {base}" if rng.random() < 0.4 else base
    return f"{street} {rng.randrange(1, 180)}"  # DE, NL, NO, IT


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------

def gen_clients() -> list[dict]:
    companies = list(CLIENT_COMPANIES)
    rng.shuffle(companies)
    statuses = status_list({"active": 46, "inactive": 7, "prospect": 7})
    rows = []
    for i, ((company, cc, city), status) in enumerate(zip(companies, statuses), start=1):
        city = city or rng.choice(list(COUNTRIES[cc]["cities"]))
        street, postcode = rng.choice(COUNTRIES[cc]["cities"][city][1])
        slug = slugify(company)
        mailbox = {"DE": "kontakt", "FR": "contact", "NO": "post", "ES": "info", "IT": "info",
                   "NL": "info"}.get(cc, rng.choice(["info", "hello", "office", "accounts"]))
        if status == "prospect":
            created = business_datetime(rand_date(dt.date(2025, 5, 1), AS_OF - dt.timedelta(days=3)))
        else:
            created = business_datetime(rand_date(dt.date(2018, 3, 1), dt.date(2024, 12, 20)))
        rows.append({
            "id": i,
            "company": company,
            "vat_number": maybe(vat_number(cc, company), 0.02),
            "email": maybe(f"{mailbox}@{slug}.com", 0.05),
            "phone": maybe(office_phone(cc, city), 0.05),
            "website": maybe(f"https://www.{slug}.com", 0.08),
            "address": maybe(street_address(cc, street), 0.05),
            "city": city,
            "postcode": maybe(postcode, 0.03),
            "country": COUNTRIES[cc]["name"],
            "status": status,
            "created_at": maybe(rfc3339(created), 0.05),
            # private, stripped before writing
            "_cc": cc, "_city": city, "_slug": slug,
        })
    return rows


def gen_contacts(clients: list[dict]) -> list[dict]:
    per_client = distribute(COUNTS["contacts"], len(clients), 1, 4, [20, 30, 30, 20])
    rows = []
    for client, n in zip(clients, per_client):
        cc, slug = client["_cc"], client["_slug"]
        pattern = rng.choice(["{f}.{l}", "{f}.{l}", "{fi}.{l}", "{f}", "{fi}{l}"])
        used_local: set[str] = set()
        used_names: set[tuple[str, str]] = set()
        for k in range(n):
            first, last = person(cc)
            while (first, last) in used_names:
                first, last = person(cc)
            used_names.add((first, last))
            f, l = name_token(first), name_token(last)
            local = pattern.format(f=f, l=l, fi=f[0])
            while local in used_local:
                local = f"{f}.{l}{len(used_local)}"
            used_local.add(local)
            if k == 0:
                local_titles = JOB_TITLES_LOCAL.get(cc, [])
                title = rng.choice(local_titles) if local_titles and rng.random() < 0.3 else rng.choice(
                    JOB_TITLES_SENIOR)
            else:
                title = rng.choice(JOB_TITLES)
            rows.append({
                "id": len(rows) + 1,
                "client_id": client["id"],
                "first_name": first,
                "last_name": last,
                "email": maybe(f"{local}@{slug}.com", 0.04),
                "phone": maybe(office_phone(cc, client["_city"]), 0.08),
                "mobile": maybe(mobile_phone(cc), 0.1),
                "job_title": maybe(title, 0.06),
                "date_of_birth": maybe(rand_date(dt.date(1955, 1, 1), dt.date(2002, 12, 31)).isoformat(), 0.1),
                "is_primary": k == 0,
                "_cc": cc,
            })
    return rows


def gen_staff() -> list[dict]:
    countries = ["GB"] * 13 + ["DE"] * 5 + ["NL"] * 2 + ["IE"] * 2 + ["FR"] * 1 + ["US"] * 2
    roles = ["admin"] * 2 + ["manager"] * 3 + ["sales"] * 9 + ["support"] * 7 + ["accounting"] * 4
    rng.shuffle(countries)
    rng.shuffle(roles)
    inactive = set(rng.sample(range(COUNTS["staff"]), 3))
    office = {"GB": ("GB", "London"), "IE": ("IE", "Dublin"), "DE": ("DE", "Berlin"), "NL": ("NL", "Amsterdam"),
              "FR": ("FR", "Paris"), "US": ("US", "New York")}
    rows, usernames, names = [], set(), set()
    for i, (cc, role) in enumerate(zip(countries, roles)):
        first, last = person(cc)
        while (first, last) in names:
            first, last = person(cc)
        names.add((first, last))
        f, l = name_token(first).replace("-", ""), name_token(last).replace("-", "")
        username = f[0] + l
        n = 2
        while username in usernames:
            username = f"{f[0]}{l}{n}"
            n += 1
        usernames.add(username)
        birth = rand_date(dt.date(1962, 1, 1), dt.date(2001, 12, 31))
        hired = rand_date(dt.date(2014, 4, 1), dt.date(2025, 10, 31))
        pcc, pcity = office[cc]
        rows.append({
            "id": i + 1,
            "first_name": first,
            "last_name": last,
            "email": f"{f}.{l}@{OWNER['domain']}",
            "phone": maybe(office_phone(pcc, pcity) if rng.random() < 0.5 else mobile_phone(pcc), 0.08),
            "username": username,
            "role": role,
            "hired_on": maybe(hired.isoformat(), 0.04),
            "iban": iban(cc),
            "national_id": maybe(national_id(cc, birth, rng.random() < 0.5), 0.05),
            "password_hash": argon2_hash(),
            "active": i not in inactive,
        })
    return rows


# Invoice line templates: description, quantity range, unit price range (whole units),
# reduced-rate flag (German 7% VAT), zero-rated flag.
ITEM_TEMPLATES = [
    ("Consulting – {month}", (4, 40), (85, 220), False, False),
    ("Senior consultant, on-site day rate – {month}", (1, 10), (650, 1400), False, False),
    ("Project management – {month}", (2, 24), (70, 150), False, False),
    ("Annual licence, {seats} seats", (1, 1), (400, 2500), False, False),
    ("User licence (annual), per seat", (3, 40), (60, 240), False, False),
    ("Support retainer – Q{quarter} 2025", (1, 1), (450, 2500), False, False),
    ("Premium support add-on – {month}", (1, 1), (149, 499), False, False),
    ("Cloud hosting – {month} {year}", (1, 1), (39, 890), False, False),
    ("Additional storage, 100 GB", (1, 10), (15, 45), False, False),
    ("Onboarding workshop (half day)", (1, 3), (450, 1200), False, False),
    ("Training session – {topic}", (1, 4), (350, 950), False, False),
    ("Printed user manuals", (5, 40), (15, 45), True, False),
    ("Reference handbook, print edition", (1, 25), (19, 69), True, False),
    ("Custom report development", (4, 32), (95, 165), False, False),
    ("API integration – {system}", (1, 1), (900, 2500), False, False),
    ("Data migration from legacy CRM", (1, 1), (750, 2500), False, False),
    ("Travel expenses – on-site visit", (1, 1), (85, 940), False, True),
    ("Domain & SSL certificate renewal", (1, 3), (15, 120), False, False),
    ("Laptop setup & imaging", (1, 12), (75, 180), False, False),
    ('27" monitor, USB-C', (1, 12), (229, 489), False, False),
    ("Website maintenance – {month}", (1, 1), (180, 950), False, False),
    ("SEO audit & recommendations", (1, 1), (650, 1800), False, False),
    ("Design revisions (hours)", (2, 20), (65, 120), False, False),
    ("Emergency call-out (out of hours)", (1, 3), (180, 420), False, False),
]
TOPICS = ["Invoicing basics", "Reporting & dashboards", "Admin & permissions", "API integration",
          "Ticket workflows"]
SYSTEMS = ["Xero", "DATEV", "Shopify", "Salesforce", "HubSpot", "SAP Business One", "QuickBooks Online"]


def exact_cents(qty: int, cents: int, pct: int) -> int:
    """Nearest price (in cents, within 15.00..2500.00) whose taxed line total is a whole number of cents.

    This keeps invoice totals exact whether a consumer rounds per line or per invoice.
    """
    for delta in range(0, 400):
        for c in (cents + delta, cents - delta):
            if 1500 <= c <= 250000 and (qty * c * (100 + pct)) % 100 == 0:
                return c
    raise AssertionError("no exact price found")


def gen_invoices(clients: list[dict], staff: list[dict]) -> tuple[list[dict], list[dict]]:
    n = COUNTS["invoices"]
    start, end = dt.date(2025, 1, 2), AS_OF - dt.timedelta(days=1)
    workdays = [start + dt.timedelta(days=d) for d in range((end - start).days + 1)]
    workdays = [d for d in workdays if d.weekday() < 5]
    issue_dates = sorted(rng.choice(workdays) for _ in range(n))

    # Clients that buy from us, and how much (prospects have no invoices yet).
    weight = {c["id"]: rng.choice([1, 1, 2, 2, 3, 4, 6]) for c in clients}
    active = [c for c in clients if c["status"] == "active"]
    inactive = [c for c in clients if c["status"] == "inactive"]
    june = dt.date(2025, 6, 1)

    # Statuses: drafts/sent for recent invoices, 22 overdue among past-due ones, the rest paid.
    due_dates = [d + dt.timedelta(days=30) for d in issue_dates]
    past_due = [i for i in range(n) if due_dates[i] < AS_OF]
    recent = [i for i in past_due if (AS_OF - due_dates[i]).days <= 90]
    older = [i for i in past_due if (AS_OF - due_dates[i]).days > 90]
    overdue = set(rng.sample(recent, 18) + rng.sample(older, 4))
    statuses = []
    for i in range(n):
        if i in overdue:
            statuses.append("overdue")
        elif due_dates[i] < AS_OF:
            statuses.append("paid")
        elif (AS_OF - issue_dates[i]).days <= 14 and rng.random() < 0.6:
            statuses.append("draft")
        else:
            statuses.append("paid" if rng.random() < 0.2 else "sent")

    item_counts = distribute(COUNTS["invoice_items"], n, 1, 5, [20, 26, 25, 17, 12])
    invoices, items = [], []
    for i in range(n):
        issue = issue_dates[i]
        pool = active + (inactive if issue < june and statuses[i] != "overdue" else [])
        client = rng.choices(pool, weights=[weight[c["id"]] for c in pool])[0]
        cc = client["_cc"]
        currency = CURRENCY.get(cc, "EUR")
        inv_id = i + 1
        total_cents = 0
        zero_rated_only = True
        for _ in range(item_counts[i]):
            desc, (qlo, qhi), (plo, phi), reduced, zero = rng.choice(ITEM_TEMPLATES)
            # bill the current or the previous month
            period = issue.replace(day=1) - dt.timedelta(days=1) if rng.random() < 0.5 else issue
            year, month_idx = period.year, period.month - 1
            desc = desc.format(month=MONTHS[month_idx], year=year, seats=rng.choice([5, 10, 15, 20, 25, 50]),
                               quarter=(issue.month - 1) // 3 + 1, topic=rng.choice(TOPICS),
                               system=rng.choice(SYSTEMS), city=client["_city"])
            qty = rng.randint(qlo, qhi)
            pct = TAX_PCT[cc]
            if zero and rng.random() < 0.6:
                pct = 0
            elif reduced and cc == "DE":
                pct = 7
            if pct:
                zero_rated_only = False
            whole = rng.randint(plo, phi)
            cents = whole * 100 + (rng.choice([0, 0, 0, 50, 95, 99]) if rng.random() < 0.35 else 0)
            if rng.random() < 0.1:
                cents += rng.randrange(100)  # occasional odd price
            cents = exact_cents(qty, min(max(cents, 1500), 250000), pct)
            total_cents += qty * cents * (100 + pct) // 100
            items.append({
                "id": len(items) + 1,
                "invoice_id": inv_id,
                "description": desc,
                "quantity": qty,
                "unit_price": cents / 100,
                "tax_rate": pct / 100,
            })
        notes = None
        r = rng.random()
        if zero_rated_only and cc in ("IT", "IE") and r < 0.7:
            notes = "Reverse charge: VAT to be accounted for by the recipient (Art. 196, Directive 2006/112/EC)."
        elif zero_rated_only and cc in ("US", "CA", "AU") and r < 0.5:
            notes = "Export of services – outside the scope of UK VAT."
        elif r < 0.12:
            notes = f"PO {rng.choice(['4500', '4700', 'PO-'])}{digits(6)}"
        elif r < 0.2:
            notes = "Thank you for your business!"
        elif r < 0.26:
            account = rng.choice([s for s in staff if s["role"] in ("sales", "manager")])
            notes = f"Includes the 10% loyalty discount agreed with {account['first_name']} {account['last_name']}."
        elif r < 0.31:
            notes = "Please quote the invoice number as payment reference. Bank transfer within 30 days."
        elif r < 0.35 and statuses[i] == "overdue":
            notes = f"Reminder sent {(due_dates[i] + dt.timedelta(days=7)).isoformat()}; client promised payment."
        elif r < 0.38:
            notes = "Replaces the earlier draft – quantities corrected as per the client's email."
        invoices.append({
            "id": inv_id,
            "client_id": client["id"],
            "number": f"INV-2025-{inv_id:04d}",
            "status": statuses[i],
            "issue_date": issue.isoformat(),
            "due_date": due_dates[i].isoformat(),
            "currency": maybe(currency, 0.03),
            "total": total_cents / 100,
            "notes": notes,
        })
    return invoices, items


def gen_leads() -> list[dict]:
    statuses = status_list({"new": 20, "contacted": 21, "qualified": 18, "won": 14, "lost": 17})
    window = {"new": 35, "contacted": 70, "qualified": 140, "won": 320, "lost": 320}
    companies = list(LEAD_COMPANIES)
    rng.shuffle(companies)
    rows = []
    for k, status in enumerate(statuses):
        if k < len(companies) or rng.random() < 0.9:
            company, cc = companies[k % len(companies)]
        else:
            company, cc = None, rng.choice(sorted(COUNTRIES))
        if rng.random() < 0.05:
            company = None  # sole trader / private person
        first, last = person(cc)
        f, l = name_token(first), name_token(last)
        if company:
            email = f"{f}.{l}@{slugify(company)}.com" if rng.random() < 0.7 else f"{f}@{slugify(company)}.com"
        else:
            email = f"{f}.{l}{rng.choice(['', '', str(rng.randrange(70, 99))])}@{rng.choice(FREE_MAIL[cc])}"
        phone = office_phone(cc, rng.choice(list(COUNTRIES[cc]["cities"]))) if rng.random() < 0.5 \
            else mobile_phone(cc)
        days = rng.randrange(1, min(window[status], (AS_OF - dt.date(2025, 1, 1)).days))
        created = business_datetime(AS_OF - dt.timedelta(days=days))
        raw = 500 * (300 ** rng.random())  # log-uniform 500 .. 150 000
        value = float(min(150000, max(500, round(raw / 50) * 50)))
        rows.append({
            "name": f"{first} {last}",
            "company": company,
            "email": maybe(email, 0.05),
            "phone": maybe(phone, 0.1),
            "source": maybe(rng.choices(["web", "referral", "event", "cold_call", "partner"],
                                        weights=[35, 25, 15, 10, 15])[0], 0.05),
            "status": status,
            "value": maybe(value, 0.06),
            "created_at": rfc3339(created),
        })
    rows.sort(key=lambda r: (r["created_at"], r["name"]))
    for i, row in enumerate(rows, start=1):
        row["id"] = i
    return rows


# Ticket templates: subject, body, tag pool, priority weights (low, normal, high, urgent),
# and None or the statuses an invoice of the client (issued before the ticket) must have.
TICKET_TEMPLATES = [
    ("Cannot log in after password reset",
     "Hi,\n\nsince resetting my password this morning I get \"Invalid credentials\" on every attempt. "
     "I have cleared the cache and tried Chrome and Firefox.\n\nYou can reach me at {email} or on {phone}.\n\n"
     "Thanks,\n{first}",
     ["login", "account", "password"], (5, 40, 40, 15), None),
    ("Invoice {inv} shows the wrong VAT rate",
     "Hello,\n\ninvoice {inv} was issued with the wrong VAT rate on line 2. Could you please update the order, "
     "then delete the old draft so our accounts team does not book it twice?\n\nKind regards,\n{first} {last}\n"
     "{job}, {company}",
     ["billing", "invoice", "vat"], (10, 55, 30, 5), ("sent", "paid", "overdue")),
    ("Please update the order and delete the old draft",
     "Hi team,\n\nwe changed the quantity from 12 to 21 seats. Please update the order, then delete the old "
     "draft – we only want one open invoice for this.\n\nBest,\n{first}",
     ["billing", "invoice"], (15, 60, 20, 5), None),
    ("API returns 500 on GET /api/v1/invoices",
     "When I call `GET /api/v1/invoices?status=overdue&page=2` our integration gets a `500 Internal Server "
     "Error`. Page 1 works fine.\n\nSteps (1-2-3 steps):\n1. Create an API token with `invoices:read`\n"
     "2. Request page 1 – OK\n3. Request page 2 – **500**\n\nResponse header `x-request-id: {reqid}` if that "
     "helps.\n\n{first} {last}",
     ["api", "bug", "integration"], (0, 30, 50, 20), None),
    ("CSV export is missing the VAT number column",
     "The client export (Reports → Export → CSV) no longer contains `vat_number`. Our bookkeeping import "
     "relies on it. Was this removed on purpose?\n\nThanks, {first}",
     ["export", "bug"], (20, 60, 20, 0), None),
    ("Request: add a second admin user",
     "Hi,\n\ncould you give admin rights to my colleague? Her email is {colleague_email}. I will be on "
     "holiday from next week and someone needs to approve invoices.\n\nCheers,\n{first}",
     ["account", "permissions"], (40, 55, 5, 0), None),
    ("PDF invoice footer shows HTML tags",
     "Our PDF invoices now show `<b>Thank you!</b>` literally in the footer instead of bold text. Looks like "
     "the footer is escaped twice. Example: {inv}.\n\nRegards, {first} {last}",
     ["invoice", "pdf", "bug"], (30, 60, 10, 0), ("sent", "paid", "overdue")),
    ("Duplicate invoices after double click",
     "We pressed \"Send\" once (maybe twice?) and the client received two copies of {inv}. Please select "
     "the correct one and drop the duplicate from our account – the union of both is now showing in the "
     "client's statement.\n\nThanks,\n{first}",
     ["invoice", "billing", "bug"], (5, 50, 40, 5), ("sent", "paid", "overdue")),
    ("Change of billing address",
     "Hello,\n\nwe have moved. New billing address from next month:\n\n{address}\n\nPlease use it on all "
     "future invoices. Phone stays {phone}.\n\nBest regards,\n{first} {last}",
     ["billing", "account"], (50, 45, 5, 0), None),
    ("SSO login loops back to the sign-in page",
     "Since this morning our users are stuck in a redirect loop with Microsoft Entra ID (Azure AD). The "
     "browser console shows `SAML response signature invalid`. Nobody at {company} can log in – this is "
     "blocking our whole sales team.\n\nCall me on {phone} please.\n\n{first} {last}, {job}",
     ["sso", "login", "urgent"], (0, 5, 35, 60), None),
    ("Two-factor codes not arriving by SMS",
     "The 2FA text messages are not arriving on {mobile}. The authenticator app works, but two of our staff "
     "do not have smartphones. Can you check the SMS gateway?\n\n{first}",
     ["login", "2fa", "sms"], (5, 45, 40, 10), None),
    ("Dashboard very slow since the last update",
     "Loading the dashboard takes 20–30 seconds since Tuesday. The *Open tickets* widget seems to be the "
     "slow one. We have about 4,000 tickets in total.\n\nThanks for looking into it,\n{first}",
     ["performance", "dashboard"], (10, 50, 35, 5), None),
    ("Webhook deliveries failing with timeout",
     "Our endpoint `https://hooks.{slug}.com/crm` receives nothing since yesterday 14:00 UTC. The webhook "
     "log shows `timeout after 10s`. Our server answers in ~200 ms when we test with `curl -X POST`.\n\n"
     "{first} {last}",
     ["api", "webhooks", "integration"], (0, 40, 50, 10), None),
    ("Wrong currency symbol on invoice {inv}",
     "Invoice {inv} is correct in the portal ({currency}), but the PDF we received shows the amounts with a "
     "different currency symbol. Our auditors will not accept it like this – can you reissue the PDF?\n\n"
     "Kind regards,\n{first} {last}",
     ["billing", "invoice", "currency"], (10, 60, 25, 5), ("sent", "paid", "overdue")),
    ("GDPR data access request",
     "Dear Sir or Madam,\n\nunder Article 15 GDPR I request a copy of all personal data you hold about me. "
     "My email address is {email}.\n\nPlease confirm receipt.\n\n{first} {last}",
     ["gdpr", "privacy"], (0, 50, 45, 5), None),
    ("Mobile app crashes when opening an invoice",
     "The iOS app (version 3.4.1) crashes as soon as I open any invoice. Android works. Steps: 1) open "
     "app 2) tap Invoices 3) tap any invoice → crash.\n\nSent from my iPhone",
     ["mobile", "bug", "ios"], (5, 45, 40, 10), None),
    ("Contact import fails at row 57",
     "I am importing our contacts from a CSV file. It stops at row 57 with the error `invalid date: "
     "31/04/1978`. Is there a way to skip bad rows instead of aborting the whole import?\n\nThanks,\n{first}",
     ["import", "contacts"], (25, 60, 15, 0), None),
    ("Invoice {inv} marked as overdue but already paid",
     "Hi,\n\nwe paid {inv} by bank transfer on the due date (reference {inv}). It still shows as overdue "
     "and we received a reminder. Please check and update the status.\n\nRegards,\n{first} {last}\n{job}",
     ["billing", "payment", "invoice"], (5, 55, 35, 5), ("overdue",)),
    ("Add our PO number to invoices",
     "Our procurement department requires the purchase order number on every invoice. Could you add "
     "\"PO 4500{po}\" to all invoices from now on?\n\nMany thanks,\n{first}",
     ["billing", "invoice"], (40, 55, 5, 0), None),
    ("Ticket timestamps are one hour off",
     "All times in the ticket view are one hour behind since the clocks changed. Our timezone in the "
     "settings is correct. Minor, but confusing for the team.\n\n{first}",
     ["timezone", "bug"], (60, 35, 5, 0), None),
    ("Payment reminders sent twice",
     "Several of our customers complained that they got the same payment reminder twice on the same day. "
     "Can you check the reminder schedule for {company}?\n\nBest,\n{first} {last}",
     ["email", "reminders", "bug"], (10, 55, 30, 5), None),
    ("Feature request: recurring invoices",
     "It would save us a lot of time if we could set up monthly recurring invoices (same items, new date). "
     "Is this on the roadmap?\n\nThanks!\n{first}",
     ["feature-request", "invoice"], (70, 30, 0, 0), None),
    ("Cannot attach files larger than 10 MB",
     "Uploading a 14 MB PDF to a ticket fails with \"Payload too large\". Can the limit be raised, or is "
     "there another way to send you the file? Otherwise I can email it to support from {email}.\n\n{first}",
     ["attachments", "limits"], (40, 50, 10, 0), None),
    ("Renewal of our annual licence",
     "Hello,\n\nour annual licence expires at the end of the month. We would like to renew and add 5 more "
     "seats. Please send a quote to {email} or call me on {phone}.\n\nBest regards,\n{first} {last}\n{job}",
     ["sales", "licence", "renewal"], (30, 60, 10, 0), None),
    ("Question about data retention",
     "How long do you keep closed tickets and deleted contacts? Our DPO needs this for our records of "
     "processing activities.\n\nKind regards,\n{first} {last}, {company}",
     ["gdpr", "question"], (55, 45, 0, 0), None),
    ("Email notifications go to spam",
     "Ticket notifications from your system end up in our spam folder. Our IT says the SPF record for "
     "`mail.{domain}` is missing `include:`. Could you check?\n\n{first}",
     ["email", "deliverability"], (20, 60, 20, 0), None),
    ("Bitte Rechnung {inv} stornieren",
     "Hallo,\n\nbitte stornieren Sie die Rechnung {inv} und stellen Sie eine neue mit unserer korrekten "
     "USt-IdNr. aus.\n\nVielen Dank und viele Grüße\n{first} {last}",
     ["billing", "invoice", "vat"], (10, 60, 25, 5), ("sent", "paid", "overdue")),
    ("Search does not find contacts with apostrophes",
     "Searching for \"O'Brien\" or \"D'Angelo\" returns nothing, although both contacts exist. Searching "
     "for \"Brien\" works. Probably an escaping issue?\n\nThanks,\n{first}",
     ["search", "bug"], (20, 55, 25, 0), None),
    ("Unable to delete an old draft invoice",
     "Hi,\n\nthe delete button is greyed out for draft {inv}. We created it by mistake. Could you delete "
     "it for us, or tell me which permission I am missing?\n\n{first} {last}",
     ["invoice", "permissions"], (35, 55, 10, 0), ("draft",)),
    ("Urgent: all invoices show status \"draft\"",
     "After this morning's update every invoice in our account shows as draft, including ones that were "
     "paid months ago! Our month-end closing is tomorrow. Please call {phone} as soon as possible.\n\n"
     "{first} {last}\n{job}, {company}",
     ["billing", "bug", "urgent"], (0, 0, 10, 90), None),
]


def gen_tickets(clients: list[dict], contacts: list[dict], invoices: list[dict]) -> list[dict]:
    statuses = status_list({"open": 32, "pending": 20, "closed": 68})
    pool = [c for c in clients if c["status"] in ("active", "inactive")]
    weights = [4 if c["status"] == "active" else 1 for c in pool]
    contacts_of: dict[int, list[dict]] = {}
    for c in contacts:
        contacts_of.setdefault(c["client_id"], []).append(c)
    invoices_of: dict[int, list[dict]] = {}
    for inv in invoices:
        invoices_of.setdefault(inv["client_id"], []).append(inv)
    rows = []
    for status in statuses:
        client = rng.choices(pool, weights=weights)[0]
        cc = client["_cc"]
        if status == "open":
            opened = business_datetime(AS_OF - dt.timedelta(days=rng.randrange(0, 75)))
        elif status == "pending":
            opened = business_datetime(AS_OF - dt.timedelta(days=rng.randrange(1, 45)))
        else:
            opened = business_datetime(rand_date(dt.date(2025, 1, 2), AS_OF - dt.timedelta(days=2)))
        limit = dt.datetime.combine(AS_OF, dt.time(9, 0))  # the demo is shown on the morning of AS_OF
        if opened >= limit:
            opened = limit - dt.timedelta(seconds=rng.randrange(600, 9 * 3600))
        # invoices the client could be writing about: issued no later than the ticket
        # (an overdue one only once it is past due)
        day = opened.date().isoformat()
        invs = [i for i in invoices_of.get(client["id"], [])
                if i["issue_date"] <= day and (i["status"] != "overdue" or i["due_date"] < day)]

        def matching(statuses):
            return [i for i in invs if i["status"] in statuses]

        def eligible(t):
            if t[0].startswith("Bitte") and cc != "DE":
                return False
            return t[4] is None or bool(matching(t[4]))

        subject_t, body_t, tag_pool, prio_w, inv_statuses = rng.choice([t for t in TICKET_TEMPLATES if eligible(t)])
        inv = rng.choice(matching(inv_statuses)) if inv_statuses else None
        who = rng.choice(contacts_of[client["id"]])
        colleague = rng.choice(contacts_of[client["id"]] + [who])
        first, last = who["first_name"], who["last_name"]
        local = f"{name_token(first)}.{name_token(last)}"
        fields = {
            "first": first,
            "last": last,
            "job": who["job_title"] or "Office Manager",
            "company": client["company"],
            "email": who["email"] or f"{local}@{client['_slug']}.com",
            "phone": who["phone"] or who["mobile"] or client["phone"] or office_phone(cc, client["_city"]),
            "mobile": who["mobile"] or mobile_phone(cc),
            "colleague_email": colleague["email"] or f"{name_token(colleague['first_name'])}@{client['_slug']}.com",
            "inv": inv["number"] if inv else "",
            "currency": CURRENCY.get(cc, "EUR"),
            "address": f"{street_address(cc, rng.choice(COUNTRIES[cc]['cities'][client['_city']][1])[0])}\n"
                       f"{client['_city']}",
            "slug": client["_slug"],
            "domain": f"{client['_slug']}.com",
            "reqid": "".join(rng.choice("0123456789abcdef") for _ in range(16)),
            "po": digits(6),
        }
        subject = subject_t.format(**fields)
        body = body_t.format(**fields)
        closed = None
        if status == "closed":
            hours = rng.choice([rng.uniform(0.2, 8), rng.uniform(8, 72), rng.uniform(72, 400)])
            closed = opened + dt.timedelta(seconds=int(hours * 3600))
            if closed >= limit:
                closed = opened + (limit - opened) * rng.uniform(0.2, 0.9)
            closed = closed.replace(microsecond=0)
        r = rng.random()
        if r < 0.07:
            tags = None
        elif r < 0.15:
            tags = []
        else:
            tags = rng.sample(tag_pool, min(len(tag_pool), rng.randint(1, 3)))
        rows.append({
            "client_id": client["id"],
            "subject": subject,
            "body": maybe(body, 0.04),
            "priority": rng.choices(["low", "normal", "high", "urgent"], weights=prio_w)[0],
            "status": status,
            "opened_at": rfc3339(opened),
            "closed_at": rfc3339(closed) if closed else None,
            "tags": tags,
        })
    rows.sort(key=lambda r: (r["opened_at"], r["client_id"], r["subject"]))
    for i, row in enumerate(rows, start=1):
        row["id"] = i
    return rows


def gen_options() -> list[dict]:
    d = OWNER["domain"]
    pairs = [
        ("company_name", OWNER["company"], True),
        ("company_address", OWNER["address"], True),
        ("company_vat_number", "GB" + digits(9), True),
        ("default_currency", "GBP", True),
        ("invoice_prefix", "INV-2025-", True),
        ("invoice_next_number", f"{COUNTS['invoices'] + 1:04d}", False),
        ("invoice_due_days", "30", True),
        ("tax_rate_default", "0.2", True),
        ("smtp_host", f"smtp.{d}", False),
        ("smtp_port", "587", False),
        ("smtp_user", f"crm-mailer@{d}", False),
        ("smtp_password", random_secret(24), False),
        ("smtp_encryption", "starttls", False),
        ("support_email", f"support@{d}", True),
        ("timezone", "Europe/London", True),
        ("date_format", "DD/MM/YYYY", True),
        ("locale", "en-GB", True),
        ("logo_url", f"https://www.{d}/assets/logo.svg", True),
        ("ticket_auto_close_days", "14", False),
        ("maintenance_message", None, True),
    ]
    return [{"id": i, "name": n, "value": v, "autoload": a} for i, (n, v, a) in enumerate(pairs, start=1)]


def generate() -> dict[str, list[dict]]:
    clients = gen_clients()
    contacts = gen_contacts(clients)
    staff = gen_staff()
    invoices, items = gen_invoices(clients, staff)
    leads = gen_leads()
    tickets = gen_tickets(clients, contacts, invoices)
    options = gen_options()
    tables = {"clients": clients, "contacts": contacts, "invoices": invoices, "invoice_items": items,
              "leads": leads, "tickets": tickets, "staff": staff, "options": options}
    # drop private helper keys
    return {name: [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
            for name, rows in tables.items()}


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def type_ok(kind: str, value) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, float)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        if not (isinstance(value, str) and DATE_RE.match(value)):
            return False
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == "datetime":
        if not (isinstance(value, str) and DATETIME_RE.match(value)):
            return False
        try:
            dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return False
        return True
    if kind == "json":
        return True
    raise ValueError(f"unknown column type {kind!r}")


def validate(tables: dict[str, list[dict]], schema: dict) -> list[str]:
    errors: list[str] = []
    declared = schema["tables"]
    if sorted(tables) != sorted(declared):
        errors.append(f"tables {sorted(tables)} != schema tables {sorted(declared)}")
    ids = {name: {row.get("id") for row in rows} for name, rows in tables.items()}

    # 1. schema conformance
    for name, rows in tables.items():
        cols = declared.get(name, {}).get("columns", {})
        if len(rows) != COUNTS[name]:
            errors.append(f"{name}: {len(rows)} rows, expected {COUNTS[name]}")
        for pos, row in enumerate(rows, start=1):
            where = f"{name}[id={row.get('id')}]"
            if row.get("id") != pos or isinstance(row.get("id"), bool):
                errors.append(f"{where}: id should be {pos}")
            extra = set(row) - set(cols) - {"id"}
            if extra:
                errors.append(f"{where}: undeclared columns {sorted(extra)}")
            for col, spec in cols.items():
                value = row.get(col)
                if value is None:
                    if spec.get("required"):
                        errors.append(f"{where}: required column {col} is missing/null")
                    continue
                if not type_ok(spec["type"], value):
                    errors.append(f"{where}: {col}={value!r} is not a {spec['type']}")
                ref = spec.get("references")
                if ref and value not in ids.get(ref, set()):
                    errors.append(f"{where}: {col}={value!r} references no row of {ref}")
    if errors:
        return errors

    # 2. demo invariants
    def check(cond: bool, msg: str) -> None:
        if not cond:
            errors.append(msg)

    items_of: dict[int, list[dict]] = {}
    for it in tables["invoice_items"]:
        items_of.setdefault(it["invoice_id"], []).append(it)
        check(1 <= it["quantity"] <= 40, f"invoice_items[{it['id']}]: quantity out of range")
        check(15 <= it["unit_price"] <= 2500 and round(it["unit_price"], 2) == it["unit_price"],
              f"invoice_items[{it['id']}]: unit_price out of range")
        check(it["tax_rate"] in (0.0, 0.07, 0.19, 0.2, 0.21, 0.25), f"invoice_items[{it['id']}]: tax_rate")
    for inv in tables["invoices"]:
        its = items_of.get(inv["id"], [])
        check(1 <= len(its) <= 5, f"invoices[{inv['id']}]: {len(its)} items")
        exact = sum(Decimal(it["quantity"]) * Decimal(str(it["unit_price"])) *
                    (1 + Decimal(str(it["tax_rate"] or 0.0))) for it in its)
        check(exact.quantize(Decimal("0.01")) == Decimal(str(inv["total"])),
              f"invoices[{inv['id']}]: total {inv['total']} != items {exact}")
        check(inv["number"] == f"INV-2025-{inv['id']:04d}", f"invoices[{inv['id']}]: number")
        issue = dt.date.fromisoformat(inv["issue_date"])
        check(issue.year == 2025, f"invoices[{inv['id']}]: issue_date not in 2025")
        check(dt.date.fromisoformat(inv["due_date"]) - issue == dt.timedelta(days=30),
              f"invoices[{inv['id']}]: due_date")
        check(inv["status"] in ("draft", "sent", "paid", "overdue"), f"invoices[{inv['id']}]: status")
        check(inv["currency"] in (None, "EUR", "GBP", "USD"), f"invoices[{inv['id']}]: currency")
        if inv["status"] == "overdue":
            check(inv["due_date"] < AS_OF.isoformat(), f"invoices[{inv['id']}]: overdue but not yet due")
    check(sum(i["status"] == "overdue" for i in tables["invoices"]) >= 15, "fewer than 15 overdue invoices")

    check(all(c["status"] in ("active", "inactive", "prospect") for c in tables["clients"]), "client status")
    primaries: dict[int, int] = {}
    for c in tables["contacts"]:
        primaries[c["client_id"]] = primaries.get(c["client_id"], 0) + (c["is_primary"] is True)
        if c["date_of_birth"]:
            check("1955-01-01" <= c["date_of_birth"] <= "2002-12-31", f"contacts[{c['id']}]: date_of_birth")
    per_client = {}
    for c in tables["contacts"]:
        per_client[c["client_id"]] = per_client.get(c["client_id"], 0) + 1
    check(set(per_client) == ids["clients"] and all(1 <= n <= 4 for n in per_client.values()),
          "every client must have 1-4 contacts")
    check(all(n == 1 for n in primaries.values()), "exactly one primary contact per client")

    for lead in tables["leads"]:
        check(lead["status"] in ("new", "contacted", "qualified", "lost", "won"), f"leads[{lead['id']}]: status")
        check(lead["source"] in (None, "web", "referral", "event", "cold_call", "partner"),
              f"leads[{lead['id']}]: source")
        check(lead["value"] is None or 500 <= lead["value"] <= 150000, f"leads[{lead['id']}]: value")
    check(sum(lead["status"] == "qualified" for lead in tables["leads"]) >= 15, "fewer than 15 qualified leads")

    for t in tables["tickets"]:
        where = f"tickets[{t['id']}]"
        check(t["priority"] in ("low", "normal", "high", "urgent"), f"{where}: priority")
        check(t["status"] in ("open", "pending", "closed"), f"{where}: status")
        check(t["opened_at"].startswith("2025-"), f"{where}: opened_at not in 2025")
        if t["status"] == "closed":
            check(t["closed_at"] is not None and t["closed_at"] > t["opened_at"], f"{where}: closed_at")
        else:
            check(t["closed_at"] is None, f"{where}: closed_at set on a non-closed ticket")
        check(t["tags"] is None or (isinstance(t["tags"], list) and len(t["tags"]) <= 3 and
                                    all(isinstance(x, str) for x in t["tags"])), f"{where}: tags")
    check(sum(t["status"] == "open" for t in tables["tickets"]) >= 25, "fewer than 25 open tickets")
    bodies = "\n".join(t["body"] or "" for t in tables["tickets"])
    for needle in ("please update the order, then delete the old draft", "1-2-3 steps", "`", "@", "+"):
        check(needle.lower() in bodies.lower(), f"no ticket body contains {needle!r}")

    for s in tables["staff"]:
        check(s["role"] in ("admin", "sales", "support", "accounting", "manager"), f"staff[{s['id']}]: role")
        check(s["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$"), f"staff[{s['id']}]: hash")
        if s["iban"]:
            b = s["iban"]
            lengths = {"GB": 22, "IE": 22, "DE": 22, "NL": 18, "FR": 27}
            numeric = "".join(str(int(ch, 36)) for ch in b[4:] + b[:4])
            check(len(b) == lengths.get(b[:2], -1) and int(numeric) % 97 == 1, f"staff[{s['id']}]: iban {b}")
    check(len({s["username"] for s in tables["staff"]}) == len(tables["staff"]), "usernames not unique")
    check(len({o["name"] for o in tables["options"]}) == len(tables["options"]), "option names not unique")
    return errors


def null_report(tables: dict[str, list[dict]], schema: dict) -> list[str]:
    lines = []
    for name, rows in tables.items():
        cols = schema["tables"][name]["columns"]
        parts = []
        for col, spec in cols.items():
            if not spec.get("required"):
                nulls = sum(row[col] is None for row in rows)
                parts.append(f"{col} {100 * nulls / len(rows):.0f}%")
        lines.append(f"  {name:14} nulls: " + ", ".join(parts))
    return lines


def render(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    schema = tomllib.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    check_only = "--check" in argv
    if check_only:
        tables = {name: json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
                  for name in schema["tables"]}
    else:
        generated = generate()
        # validate exactly what will be written (after a JSON round trip)
        texts = {name: render(rows) for name, rows in generated.items()}
        tables = {name: json.loads(text) for name, text in texts.items()}
    errors = validate(tables, schema)
    if errors:
        for e in errors[:50]:
            print("INVALID:", e, file=sys.stderr)
        print(f"{len(errors)} validation error(s); nothing written.", file=sys.stderr)
        return 1
    if not check_only:
        for name, text in texts.items():
            with open(HERE / f"{name}.json", "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    print(f"{'checked' if check_only else 'wrote'} {len(tables)} tables in {HERE}:")
    for name, rows in tables.items():
        size = (HERE / f"{name}.json").stat().st_size
        print(f"  {name:14} {len(rows):4d} rows  {size:8d} bytes")
    print("validation against", SCHEMA_PATH.name, "passed")
    print("\n".join(null_report(tables, schema)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
