#!/usr/bin/env python3
"""Generate the benign (non-attack) corpus for the Palisade SQL-injection detector tests.

Writes, next to this script:
  benign.txt       realistic values a small company's CRM receives in query-string values and
                   JSON string fields (names, companies, ticket text, markdown, e-mails, phones,
                   dates, amounts, postcodes, URLs, IDs, addresses, non-English text ...)
  benign_code.txt  code snippets customers paste into tickets (SQL in backticks / fences,
                   Rust, shell, JSON ...), kept apart because a detector may treat them differently

Standard library only; a fixed seed and ordered (non-set) de-duplication make the output
byte-for-byte reproducible:  python3 tests/corpus/make_benign.py
Lines starting with "# " are comments; no data line starts with "# " (markdown H1 headings are
therefore written as "##"/"###" headings or appear mid-line).
"""
import os
import random
import unicodedata

SEED = 20250314
rng = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------- pools
FIRST = [
    "Aoife", "Siobhán", "Liam", "Marco", "Giulia", "Aminata", "Moussa", "Kerry", "Seán", "Niamh",
    "Priya", "Rahul", "Mei", "Hiroshi", "Yuki", "Sofía", "Mateo", "Lucía", "Léa", "Chloé",
    "François", "Jürgen", "Björn", "Åsa", "Øystein", "Ingrid", "Kari", "Fatima", "Omar", "Chinedu",
    "Ngozi", "Emily", "James", "Olivia", "Noah", "Zoë", "Renée", "José", "Ana", "Thomas",
    "Sarah", "David", "Grace", "Mary-Kate", "Jean-Luc", "Anne-Marie", "Kwame", "Lars", "Sigrid",
    "Hannah", "Mohammed", "Aisha", "Wei", "Jun", "Leilani", "Tomás", "Joaquín", "Dmitri", "Oksana",
    "Per", "Bodil", "Hélène", "Pål", "Maëlle", "Ciarán", "Eoin", "D'Andre", "Shaquille", "Ji-woo",
]
LAST = [
    "O'Brien", "D'Angelo", "O'Neil-Smith", "N'Diaye", "O'Connor", "O'Sullivan", "D'Souza", "D'Arcy",
    "McAllister", "MacDonald", "Smith-Jones", "Fitzgerald", "Lefèvre", "Müller", "Schröder",
    "Nørgaard", "Ødegård", "Bråthen", "Lindqvist", "García", "Álvarez", "Núñez", "Tanaka", "Suzuki",
    "Okafor", "Mensah", "Nguyen", "Kowalski", "van der Berg", "de la Cruz", "ben Ali", "al-Farsi",
    "Dupont-Moretti", "L'Écuyer", "Dell'Olio", "Da Silva", "St. John", "Ó Briain", "Brown",
    "Johnson", "Hansen", "Johansen", "Larsen", "Berg", "Haugen", "Kim", "Park", "Rossi", "Bianchi",
    "Wójcik", "Ivanova", "Petrov", "Cohen", "Levi", "Singh", "Patel", "Chen", "Wang", "Öztürk",
    "Yılmaz", "O'Hara", "D'Amico", "Ní Bhriain", "Kealoha", "Ng",
]
JP_NAMES = ["田中 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "渡辺 健", "山本 さくら"]
TITLES = ["Dr.", "Mr.", "Ms.", "Mrs.", "Mx.", "Prof.", "Sr.", "Sra.", "Herr", "Frau", "Mme"]

COMPANIES_FIXED = [
    "D'Angelo & Sons", "Union Pacific", "Select Comfort", "Drop Zone Ltd", "Insert Coin Games",
    "Update Partners LLP", "Order & Chaos Ltd", "Table Mountain Tours", "Union Square Café",
    "Delete Studios", "O'Brien's Pub & Grill", "N'Diaye Logistique SARL", "Sleep Number",
    "Benchmark Analytics AS", "Exec Jets Charter", "Char Grill & Bar", "Like Minds Consulting",
    "From Scratch Bakery", "Where2Go Travel", "Declare Design Studio", "Null & Void Records",
    "Join Us Recruiting", "Group By Events", "Having Fun Toys", "Truncate Hair Salon",
    "Alter Ego Theatre", "Grant & Grant Solicitors", "Limit Break Gaming", "Cast Iron Cookware Co.",
    "Values First Credit Union", "Into the Woods Outfitters", "Case & Key Locksmiths",
    "Ben & Jerry's", "Marks & Spencer", "Procter & Gamble", "AT&T", "Johnson & Johnson",
    "Müller & Söhne GmbH", "Nordic Fjord AS", "Bøker og Blekk AS", "Café de l'Olivier",
    "L'Oréal Professionnel", "Frères Dupont S.A.", "Panadería Núñez S.L.", "株式会社サクラ",
    "Smith-Jones Plumbing", "O'Neil-Smith Architects", "Select & Save Grocers", "Drop & Go Couriers",
    "Shutdown Brewing Co.", "Waitfor It Productions", "Table 9 Bistro", "Order Desk Pty Ltd",
]
COMPANY_WORDS = [
    "Union", "Select", "Drop", "Insert", "Update", "Order", "Table", "Delete", "Sleep", "Benchmark",
    "Exec", "Declare", "Char", "Like", "Where", "From", "Summit", "Harbor", "Northwind", "Bluebird",
    "Maple", "Granite", "Evergreen", "Lighthouse", "Riverside", "Fjord", "Aurora",
]
COMPANY_NOUNS = [
    "Logistics", "Bakery", "Consulting", "Dental", "Plumbing", "Tours", "Media", "Labs", "Fitness",
    "Print Shop", "Realty", "Bikes", "Florists", "Catering", "Accounting", "Legal", "Studios",
    "Outdoor", "Coffee Roasters", "Auto Repair",
]
COMPANY_SUFFIX = ["Ltd", "LLC", "Inc.", "GmbH", "AS", "AB", "S.A.", "S.L.", "Pty Ltd", "& Co.",
                  "LLP", "plc", "K.K.", "Oy", "ApS", ""]

PRODUCTS = ["Pro plan", "Starter plan", "Team plan", "ergonomic chair", "standing desk",
            "blue hoodie (size M)", "coffee grinder", "USB-C dock", "wireless headset",
            "annual licence", "gift card", "winter tyres", "oak dining table", "union jack flag",
            "select-grade maple syrup", "drop-leaf table", "sleep mask", "char-broil grill"]
COLOURS = ["navy", "red", "forest green", "charcoal", "off-white", "teal", "black", "sand"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
CITIES = ["London", "Dublin", "Oslo", "Bergen", "Berlin", "Munich", "Paris", "Lyon", "Madrid",
          "Barcelona", "Tokyo", "Osaka", "Cape Town", "San Francisco", "New York", "Toronto"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.co.uk", "example.de",
           "example.no", "example.fr", "example.es", "example.jp"]


def pick(seq):
    return rng.choice(seq)


def uniq(items):
    return list(dict.fromkeys(i.strip() for i in items if i and i.strip()))


# --------------------------------------------------------------------------- generators
def names():
    out = ["O'Brien", "D'Angelo", "O'Neil-Smith", "N'Diaye", "Siobhán O'Brien", "Marco D'Angelo",
           "Kerry O'Neil-Smith", "Aminata N'Diaye", "Anne-Marie O'Hara", "Jean-Luc L'Écuyer",
           "Mary-Kate D'Arcy", "Seán Ó Briain", "Giulia Dell'Olio", "Dr. Chinedu Okafor-Mensah",
           "Renée Dupont-Moretti", "Øystein Bråthen", "Åsa Lindqvist", "José Álvarez de la Cruz",
           "Zoë van der Berg", "Ji-woo Kim", "D'Andre St. John", "Ingrid Ødegård"]
    out += JP_NAMES
    pairs = [(f, l) for f in FIRST for l in LAST]
    for f, l in rng.sample(pairs, 230):
        style = rng.random()
        if style < 0.60:
            out.append("%s %s" % (f, l))
        elif style < 0.75:
            out.append("%s, %s" % (l, f))
        elif style < 0.87:
            out.append("%s %s %s" % (pick(TITLES), f, l))
        elif style < 0.94:
            out.append("%s %s." % (f, l[0] if l[0].isalpha() else l[:2]))
        else:
            out.append("%s %s-%s" % (f, l, pick(LAST)))
    return out


def companies():
    out = list(COMPANIES_FIXED)
    for _ in range(140):
        r = rng.random()
        if r < 0.45:
            c = "%s %s %s" % (pick(COMPANY_WORDS), pick(COMPANY_NOUNS), pick(COMPANY_SUFFIX))
        elif r < 0.65:
            c = "%s & Sons %s" % (pick(LAST), pick(["Ltd", "Inc.", "", "GmbH"]))
        elif r < 0.80:
            c = "%s & %s %s" % (pick(LAST), pick(LAST), pick(["LLP", "Solicitors", "Partners", "AS"]))
        else:
            c = "%s's %s" % (pick(FIRST), pick(COMPANY_NOUNS))
        out.append(" ".join(c.split()))
    return out


TICKET_SENTENCES = [
    "please update the order, then delete the old draft",
    "Can you select the union rate for the drop-off?",
    "I need more sleep before the benchmark",
    "Where is my order from last week?",
    "It's 5 or 6 items, not 7",
    "Please delete my old address and update it to the new one.",
    "Could you insert a note that I'll be away from the 3rd to the 10th?",
    "Select whichever courier is cheapest, or the fastest if it's under £10.",
    "The table I ordered arrived scratched -- can you replace it?",
    "Drop me a line when the invoice is ready.",
    "We'd like to drop the Pro plan and select Starter instead.",
    "I can't find where to update my card details.",
    "Where do I declare the VAT number on the checkout page?",
    "The union rep asked for a copy of the contract.",
    "Our exec team wants the Q3 numbers by Friday.",
    "Please don't delete anything yet; we're still reviewing.",
    "Is it OK if I insert our logo on the quote?",
    "My order from March is still 'processing' -- is that right?",
    "Can you sort the table by date and then by amount?",
    "The benchmark in your brochure says 2x faster; we see 1.3x.",
    "I'd like to order 3 more, or 4 if there's a discount.",
    "Where and when is the training session?",
    "Update: the parcel arrived, thank you!",
    "The char limit on the notes field is too short for our addresses.",
    "I don't like the new layout, but the search is great.",
    "Please select 'Invoice' and not 'Card' as payment method.",
    "Sleep mode on the kiosk kicks in too early.",
    "Can we union the two customer records? They're the same person.",
    "We drop off returns every Tuesday and Thursday.",
    "From now on please send invoices to accounts@example.com.",
    "Where's the delete button on mobile?",
    "Please insert the PO number on every invoice from now on.",
    "The exec summary is on page 2 (see attached).",
    "Declare the shipment as 'samples, no commercial value'.",
    "Order of events: sign, scan, send.",
    "Kitchen table and 4 chairs, or the bench version if in stock.",
    "I selected the wrong size -- can I update it to XL?",
    "Hi, I'm writing from Union Square Café about our booking for 12.",
    "Delete Studios called; they want to reschedule the shoot.",
    "Update Partners LLP need the signed NDA back by 5pm.",
    "Insert Coin Games would like a demo next week.",
    "Table Mountain Tours: 6 adults and 2 kids, 9am pickup.",
    "Order & Chaos Ltd paid twice for INV-2025-0042, please refund one.",
    "Drop Zone Ltd needs the skydiving waiver in French too.",
    "Select Comfort asked whether the mattress has a 100-night trial.",
    "Union Pacific freight is delayed by two days.",
    "The old draft is obsolete; delete it when you get a chance.",
    "Please update my surname from O'Brien to O'Brien-Walsh.",
    "Is there a way to select multiple contacts and drop them from the list?",
    "We benchmark vendors every year, and yours came out on top.",
    "After an update last night the export is empty.",
    "My colleague D'Angelo will take over this ticket.",
    "Why does the report show 0 rows where there should be 12?",
    "I was charged for 2 seats, not 1 -- please check.",
    "Thanks -- that fixed it.",
    "Nothing selected yet; I'm waiting for my manager.",
    "Call me between 9 and 5, or email any time.",
    "If the order's over €500, do you waive the delivery fee?",
    "My name is N'Diaye, with an apostrophe after the N.",
    "Can the invoice say 'O'Neil-Smith Architects' exactly like that?",
    "We like the idea, but need to sleep on it.",
    "Please don't exec any changes on our account without approval.",
    "Which table holds the delivery notes in the export -- orders or shipments?",
    "The delete confirmation dialog says 'Are you sure?' twice.",
    "I want to insert a line break in the signature.",
    "Update the order status to 'shipped' once it leaves the warehouse.",
    "Where can I select the delivery slot?",
    "Or should we just cancel and reorder?",
    "It says 'Error 1064' when I save -- screenshot attached.",
    "Your price list says 'from £9.99' but checkout says £12.49.",
    "Kindly union the invoices for Jan and Feb into one statement.",
    "The char-grilled peppers were out of stock (order #5521).",
    "Declare bankruptcy? No -- we just need a payment plan :)",
    "Like I said on the phone, the table legs are loose.",
    "Drop-down menu for country is missing Norway.",
    "Selection: 2 x blue, 1 x red, and 1 x 'surprise me'.",
    "Please update the PO from 4411 to 4412; the old one was cancelled.",
    "Is 1=1 meeting still on? I mean the one-to-one with Kari.",
    "The 'OR' in our company name is part of the logo: ORbit Labs.",
    "We sold 1,000 units -- or 1k if you prefer.",
    "Answer: yes; question: when?",
    "No rush -- whenever you have time.",
    "Sleep well, and talk tomorrow!",
    "Order from last Tuesday: still no tracking link.",
    "Where from? Our warehouse in Bergen.",
    "Could you select a date where all three of us are free?",
    "I'll update the spreadsheet and drop it in the shared folder.",
    "Please delete the duplicate contact for Aoife O'Connor.",
    "Benchmark: 240 orders/hour on the old system, 410 on yours.",
    "The sleep timer on the speaker doesn't work after the update.",
    "Meeting notes: union negotiation, table tennis tournament, order more coffee.",
    "Insert tab A into slot B, then tighten the screws.",
    "Execution of the contract is scheduled for 1 July.",
    "Declaration of conformity attached (PDF, 2 pages).",
    "Like-for-like replacement is fine.",
    "The charcoal version, not the char-grey one.",
    "From the 1st we move to 14 Union Street.",
    "Select all, copy, paste -- and the formatting is gone.",
    "We'd like a table near the window, or on the terrace.",
    "Delete? Archive? What's the difference?",
    "Updated address: 12 O'Connell St, Dublin 1.",
    "It's 'select', not 'selected' -- typo in the email subject.",
    "Where the heck is my refund? (Sorry, long week.)",
    "My order number is 10045 and the total was $249.99.",
    "Happy to drop by the office on Wednesday.",
    "Could the delivery driver call 10 minutes before arrival?",
    "The table of contents in the manual skips chapter 4.",
    "I'd rather not update the app until the bug is fixed.",
    "Please insert 'Attn: Accounts Payable' above the address.",
    "We have 2 or 3 questions about the SLA.",
    "And another thing: the login page is slow.",
    "Either Tuesday or Thursday works, but not both.",
    "Quote valid from 01/04 to 30/04.",
    "Thank you so much -- you've been super helpful!",
    "Sorry for the delay; I was out sick.",
    "The union of our two teams starts next month.",
    "Where exactly do I find the 'select all' checkbox?",
    "Delete the last line of the quote, it's a duplicate.",
    "In the drop box by the door, like last time.",
    "We'll exec the plan once the budget is approved.",
    "Need a benchmark report for the board (max 2 pages).",
]

TICKET_TEMPLATES = [
    "Order #{n} from {day} hasn't arrived yet",
    "Please update the shipping address for order ORD-{n6}",
    "Can you delete my old account ({email})?",
    "Where is my order from {day}?",
    "I'd like to select the {prod} instead of the {prod2}",
    "Drop-off at {city} between {h1}:00 and {h2}:00, or later if needed",
    "Insert PO {po} on invoice INV-2025-{n4}, please",
    "Table for {k} at {h1}:30 under the name {last}",
    "Please union the accounts for {name} and {name2}",
    "Declare the parcel to {city} as 'documents'",
    "The {colour} {prod} or the {colour2} one -- which is in stock?",
    "Update from {name}: payment sent on {date}",
    "Re: order {n} -- still waiting ({k} days now)",
    "Fwd: Invoice INV-2025-{n4} from {company}",
    "{name} says the {prod} is 'as described', thanks!",
    "Reminder: {company} renewal on {date}",
    "Can I change my order from {k} to {k2} units?",
    "Where do I update the billing e-mail for {company}?",
    "Delete the {colour} variant from my wishlist, please",
    "Select delivery: {day}, {h1}-{h2}h",
    "We like {prod} -- can {company} get a volume discount?",
    "Benchmark for {company}: {k}0% faster checkout after the update",
    "Sleep mode settings for the {prod}?",
    "Exec briefing with {name} moved to {day} {h1}:00",
    "Char count for SMS: {k}0 of 160",
    "Order from {city} to {city2}: {k} boxes, {k2} pallets",
    "Table booking for {k} -- {name}, tel. +44 20 7946 0{n3}",
    "{name}: 'I'll drop by on {day}'",
    "Delivery to {company}, {k} {street}, {city}",
    "Callback requested by {name} ({phone})",
]


def ticket_text():
    out = list(TICKET_SENTENCES)
    for _ in range(420):
        t = pick(TICKET_TEMPLATES)
        f, l = pick(FIRST), pick(LAST)
        out.append(t.format(
            n=rng.randint(1000, 99999), n6="%06d" % rng.randint(1, 999999),
            n4="%04d" % rng.randint(1, 9999), n3="%03d" % rng.randint(0, 999),
            day=pick(WEEKDAYS), email=email_for(f, l), prod=pick(PRODUCTS), prod2=pick(PRODUCTS),
            city=pick(CITIES), city2=pick(CITIES), h1=rng.randint(7, 12), h2=rng.randint(13, 19),
            po=rng.randint(10000, 99999), k=rng.randint(2, 9), k2=rng.randint(10, 40),
            last=l, name="%s %s" % (f, l), name2="%s %s" % (pick(FIRST), pick(LAST)),
            colour=pick(COLOURS), colour2=pick(COLOURS), date=date_str(), company=pick(COMPANIES_FIXED),
            street=pick(STREETS), phone=phone_str()))
    return out


def ascii_fold(s):
    s = s.lower()
    for a, b in (("ø", "o"), ("æ", "ae"), ("ß", "ss"), ("ı", "i"), ("ł", "l")):
        s = s.replace(a, b)
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if c.isascii())


def email_for(f, l):
    f2 = "".join(c for c in ascii_fold(f) if c.isalnum() or c in "'-")
    l2 = "".join(c for c in ascii_fold(l) if c.isalnum() or c in "'-")
    if not f2:
        f2 = "info"
    if not l2:
        l2 = "contact"
    dom = pick(DOMAINS)
    r = rng.random()
    if r < 0.35:
        return "%s.%s@%s" % (f2, l2, dom)
    if r < 0.55:
        return "%s@%s" % (l2, dom)
    if r < 0.75:
        return "%s+%s@%s" % (f2, pick(["crm", "orders", "newsletter", "2025", "support", "tickets"]), dom)
    if r < 0.90:
        return "%s%s@%s" % (f2[0], l2, dom)
    return "%s_%s%d@%s" % (f2, l2, rng.randint(1, 99), dom)


def emails():
    out = ["o'brien@example.com", "d'angelo.marco@example.it", "kerry.o'neil-smith@example.co.uk",
           "aminata.n'diaye@example.sn", "orders+2025@dropzone.example", "info@union-pacific.example",
           "sales@select-comfort.example", "billing@insertcoin.example", "hello@delete-studios.example",
           "bookings@tablemountaintours.example", "accounts@orderandchaos.example",
           "update.partners+legal@example.com", "first.last+tag+more@example.org",
           "\"john smith\"@example.com", "user@[192.0.2.10]", "admin@localhost", "x@example.io",
           "postmaster@example.net", "søren@example.dk", "田中@example.jp"]
    for _ in range(150):
        out.append(email_for(pick(FIRST), pick(LAST)))
    return out


def phone_str():
    r = rng.random()
    if r < 0.15:
        return "+44 20 7946 0%03d" % rng.randint(0, 999)
    if r < 0.30:
        return "(%d) 555-01%02d" % (rng.choice([212, 415, 312, 617, 206]), rng.randint(0, 99))
    if r < 0.40:
        return "+1-%d-555-01%02d" % (rng.choice([202, 303, 503, 646]), rng.randint(0, 99))
    if r < 0.50:
        return "030 %07d" % rng.randint(1000000, 9999999)
    if r < 0.60:
        return "+47 %02d %02d %02d %02d" % tuple(rng.randint(10, 99) for _ in range(4))
    if r < 0.68:
        return "07700 900%03d" % rng.randint(0, 999)
    if r < 0.76:
        return "+33 1 %02d %02d %02d %02d" % tuple(rng.randint(10, 99) for _ in range(4))
    if r < 0.84:
        return "+81 3-%04d-%04d" % (rng.randint(1000, 9999), rng.randint(1000, 9999))
    if r < 0.92:
        return "555.%03d.%04d" % (rng.randint(100, 999), rng.randint(0, 9999))
    return "+49 (0)89 %d" % rng.randint(100000, 999999)


def phones():
    out = ["+44 20 7946 0321", "(415) 555-0134", "030 1234567", "1-2-3", "+1 (212) 555-0198 ext. 204",
           "020 7946 0958 x12", "+353 1 555 0199", "+47 22 12 34 56", "+49 (0)30 901820",
           "0800 123 4567", "+61 2 5550 1234", "+34 912 345 678", "112", "+1 800 555 0100",
           "tel:+14155550134", "+44 (0) 161 496 0000", "(0)20-7946-0000", "555-0134 (mobile)",
           "+45 32 12 34 56", "+46 8-123 456 78", "+81 90-1234-5678", "+27 21 555 0123",
           "call 555 0134 after 6", "+1.415.555.0134", "00 44 20 7946 0321"]
    for _ in range(110):
        out.append(phone_str())
    return out


def date_str():
    y = rng.choice([2024, 2025, 2026])
    m = rng.randint(1, 12)
    d = rng.randint(1, 28)
    h, mi = rng.randint(0, 23), rng.choice([0, 15, 30, 45])
    fmts = [
        "%04d-%02d-%02d" % (y, m, d), "%02d/%02d/%04d" % (d, m, y), "%02d/%02d/%04d" % (m, d, y),
        "%02d.%02d.%04d" % (d, m, y), "%s %d, %d" % (MONTHS[m - 1], d, y),
        "%d %s %d" % (d, MONTHS[m - 1][:3], y), "%04d-%02d-%02dT%02d:%02d:00Z" % (y, m, d, h, mi),
        "%04d/%02d/%02d" % (y, m, d), "%d. %s %d" % (d, MONTHS[m - 1], y),
        "%d年%d月%d日" % (y, m, d), "%s %d %s" % (WEEKDAYS[(d + m) % 7][:3], d, MONTHS[m - 1][:3]),
        "%02d:%02d" % (h, mi), "%d:%02d %s" % (h % 12 or 12, mi, "pm" if h >= 12 else "am"),
    ]
    return rng.choice(fmts)


def dates():
    out = ["2025-03-14", "14/03/2025", "03/14/2025", "14.03.2025", "March 14, 2025", "Q3 2025",
           "next Tuesday", "between 9 and 5", "end of month", "ASAP", "2025-W11", "FY2025/26",
           "Fri, 14 Mar 2025 09:30:00 +0000", "2025-03-14T09:30:00+01:00", "mid-April",
           "the 3rd or the 4th", "1/2 day", "24/7", "9-5", "Mon-Fri 08:00-16:00",
           "14. mars 2025", "14 de marzo de 2025", "14. März 2025", "2025年3月14日", "i morgen kl. 10"]
    for _ in range(110):
        out.append(date_str())
    return out


def amounts():
    out = ["€1,234.56", "-5%", "1/2", "½", "$99.00", "£1,299.00", "1 234,56 €", "USD 1,000",
           "kr 499,-", "NOK 1 250,00", "¥12,800", "CHF 45.–", "3 x 19.99", "+15%", "~200",
           ">= 10 units", "≥ 10 units", "50% off; valid until Friday", "0.5", "-0.25", "1e3 units",
           "€ 0,99", "2 for 1", "100%", "99.9% uptime", "3/4 of the budget", "$1.2M", "12k",
           "-€20.00 (credit note)", "(1,200.00)", "R 350.00", "₹ 4,999", "₩15,000", "zł 89,99",
           "Total: £42.10 incl. VAT", "VAT 25%", "Discount = 10%", "qty=3", "price: 19,95 €"]
    for _ in range(100):
        v = rng.randint(1, 500000) / 100.0
        r = rng.random()
        if r < 0.25:
            out.append("€%s" % format(v, ",.2f"))
        elif r < 0.45:
            out.append("$%s" % format(v, ",.2f"))
        elif r < 0.60:
            out.append("£%s" % format(v, ",.2f"))
        elif r < 0.75:
            out.append(("%s kr" % format(v, ",.2f")).replace(",", " ").replace(".", ","))
        elif r < 0.85:
            out.append("%d%%" % rng.randint(-50, 100))
        else:
            out.append("%d/%d" % (rng.randint(1, 9), rng.randint(2, 12)))
    return out


def postcodes():
    out = ["SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT",
           "90210", "10001-1234", "94105", "10115 Berlin", "80331 München", "0150 Oslo", "5003 Bergen",
           "75008 Paris", "69001 Lyon", "28013 Madrid", "100-0001", "530-0001", "M5V 3L9", "D02 X285",
           "2000 NSW", "8001 Cape Town", "1011 AB Amsterdam", "00-950 Warszawa", "114 55 Stockholm"]
    for _ in range(60):
        r = rng.random()
        if r < 0.3:
            out.append("%d" % rng.randint(10000, 99999))
        elif r < 0.5:
            out.append("%04d" % rng.randint(1, 9999))
        elif r < 0.75:
            L = "ABCDEFGHJKLMNPRSTUWY"
            out.append("%s%s%d %d%s%s" % (pick(L), pick(L), rng.randint(1, 20), rng.randint(0, 9),
                                          pick(L), pick(L)))
        else:
            out.append("%03d-%04d" % (rng.randint(100, 999), rng.randint(0, 9999)))
    return out


STREETS = ["Union Street", "Select Road", "Order Lane", "Table Bay Blvd", "O'Connell St",
           "Karl Johans gate", "Rue de l'Église", "Calle Mayor", "Hauptstraße", "Market Street",
           "Main St", "D'Arcy Lane", "St. Stephen's Green", "Drop Lane", "Update Avenue"]


def addresses():
    out = ["Apt #4, 12 Union Street", "12 O'Connell St, Dublin 1", "Flat 3B, 221B Baker Street",
           "Rue de l'Église 5, 75008 Paris", "Karl Johans gate 22, 0159 Oslo",
           "Hauptstraße 1a, 10115 Berlin", "Calle Mayor, 7, 3º Izq., 28013 Madrid",
           "1600 Amphitheatre Pkwy, Suite #200", "PO Box 1234", "c/o D'Angelo & Sons, Unit 7",
           "Building C, Floor -1 (basement)", "Storgata 5B, 5003 Bergen", "〒100-0001 東京都千代田区千代田1-1",
           "Apartment 12 / Door 3", "#5 - 1234 Main St, Vancouver BC", "Unit 4/17 George St, Sydney NSW 2000"]
    for _ in range(90):
        n = rng.randint(1, 250)
        r = rng.random()
        st = pick(STREETS)
        if r < 0.3:
            out.append("%d %s, Apt #%d" % (n, st, rng.randint(1, 40)))
        elif r < 0.5:
            out.append("%s %d, %s" % (st, n, pick(CITIES)))
        elif r < 0.7:
            out.append("Unit %d, %d %s" % (rng.randint(1, 12), n, st))
        elif r < 0.85:
            out.append("%d %s (back entrance)" % (n, st))
        else:
            out.append("%d-%d %s, %s" % (n, n + 2, st, pick(CITIES)))
    return out


def urls():
    out = ["https://example.com/a?b=1&c=2", "https://shop.example/orders?id=123&sort=desc",
           "https://example.org/search?q=union+square&page=2", "http://localhost:8080/api/v1/customers?limit=50&offset=100",
           "https://example.com/reset?token=abc123XYZ", "https://example.net/files/contract.pdf#page=3",
           "https://example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale",
           "https://maps.example/?q=Table+Mountain&z=12", "https://example.com/select?plan=pro&seats=5",
           "https://example.com/order/from/42?ref=drop", "https://example.com/where-to-buy?country=NO",
           "https://example.org/path%20with%20spaces/file.txt", "https://example.com/search?q=O%27Brien",
           "https://example.com/#/settings/billing", "mailto:o'brien@example.com?subject=Hello%20there",
           "https://example.jp/検索?q=注文", "https://xn--bcher-kva.example/", "ftp://files.example.com/pub/",
           "https://example.com/api?filter=status:open;sort=-created", "https://example.com/a/b/../c",
           "https://user@example.com:8443/path?x=1#frag", "www.example.com", "example.com/pricing",
           "https://example.com/calendar?date=2025-03-14&view=week&tz=Europe%2FOslo",
           "https://docs.example.com/guide#update-your-order"]
    words = ["orders", "invoices", "contacts", "tickets", "products", "reports", "select", "union",
             "delete", "update", "table", "sleep", "benchmark"]
    for _ in range(70):
        out.append("https://%s/%s/%d?%s=%s&%s=%d" % (
            pick(["example.com", "crm.example.org", "app.example.net", "shop.example"]),
            pick(words), rng.randint(1, 99999), pick(["sort", "view", "tab", "q", "filter"]),
            pick(["asc", "desc", "list", "grid", "open", "closed", "from-last-week"]),
            pick(["page", "limit", "id", "v"]), rng.randint(1, 200)))
    return out


def identifiers():
    out = ["INV-2025-0001", "AB-123/45", "v1.2.3", "2.0.0-beta.1", "PO-88213", "ORD-000123",
           "SKU: XL-RED-001", "build 4512", "#4821", "Ticket #10023", "REF: 2025/03/14-7",
           "CASE-00912", "GB123456789", "NO 987 654 321 MVA", "DE123456789", "IBAN GB82 WEST 1234 5698 7654 32",
           "ISBN 978-3-16-148410-0", "UUID 123e4567-e89b-12d3-a456-426614174000", "A1B2-C3D4",
           "ABC/123-45_6", "v10", "rev. C", "Model X-100/200", "Part #: 555-0134-A", "Lot 42-B"]
    for _ in range(110):
        r = rng.random()
        if r < 0.25:
            out.append("INV-%d-%04d" % (rng.choice([2024, 2025, 2026]), rng.randint(1, 9999)))
        elif r < 0.45:
            out.append("%s-%d/%02d" % ("".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)),
                                       rng.randint(100, 999), rng.randint(1, 99)))
        elif r < 0.60:
            out.append("v%d.%d.%d" % (rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 99)))
        elif r < 0.75:
            out.append("ORD-%06d" % rng.randint(1, 999999))
        elif r < 0.88:
            out.append("PO-%d" % rng.randint(10000, 99999))
        else:
            out.append("#%d" % rng.randint(100, 99999))
    return out


def free_text():
    out = ["Great service -- thanks!", "We met; it went well", "(see attached)", "He said \"fine\"",
           "x = y + 1", "a=b", "It's 5 or 6 items, not 7", "50% off; valid until Friday",
           "#hashtags", "#thankyou #greatservice", "#BlackFriday deals?", "Apt #4",
           "Yes/No", "N/A", "TBD", "—", "...", "Re: Re: Fwd: invoice", "Call me @ 3pm", "Q&A", "R&D",
           "C'est la vie", "rock 'n' roll", "'80s playlist", "don't", "won't", "y'all", "ma'am",
           "Five o'clock", "O'Brien -- see you Friday", "D'Angelo's quote (v2) -- revised",
           "Price: 10 (was 12); delivery: free", "1 + 1 = 2", "if x > 5 then y", "a < b and b < c",
           "Use code SPRING25 -- expires 30/04", "It's 'final' this time, I promise", "\"Quoted\" name",
           "'single quoted'", "don't -- won't -- can't", "Note: ; is not a typo", "Select * for all",
           "ok;", "done.", "see above ^", "100% agree!!!", "¯\\_(ツ)_/¯", ":-)", ";-)", "<3", "=)",
           "Cc: finance; Bcc: me", "TODO: call back -- urgent", "path C:\\Users\\kari\\Documents",
           "50/50", "A/B test", "and/or", "either/or", "he/him", "24/7 support", "1st, 2nd & 3rd",
           "Mr. & Mrs. O'Hara", "Tom & Jerry's Diner", "AT&T or Verizon?", "US$ or €?",
           "Step 1) log in; step 2) click 'Orders'", "[urgent] invoice missing", "{placeholder}",
           "Option A (preferred) or option B", "Grand total = subtotal + VAT - discount",
           "e.g. 'Acme Ltd'", "i.e. the old one", "etc.", "w/ lid", "w/o sugar", "approx. 3-4 days",
           "-- no comment --", "***", "---", "===", "~~~", "P.S. love the new logo",
           "It's a 10/10 from me", "Rate: 4.5/5", "Size: M/L", "Colour: 'off-white'",
           "\"O'Brien\" with an apostrophe, please", "She's 'the boss'", "Don't delete -- archive!",
           "Where's Wally?", "What's up?", "Who's on call this weekend?", "Order #1 & order #2",
           "#1 priority", "Room #12, 2nd floor", "Gate #B7", "Invoice #INV-2025-0001 (paid)",
           "Union Jack flag x 2", "Drop ceiling tiles, 60x60", "Select grade oak", "Table salt, 1kg",
           "from 9 to 5", "where possible", "and more", "or less", "like new", "sleep tight",
           "benchmark: ok", "exec: Kari O'Neil", "declare: no", "char: ✓",
           "The café's crème brûlée was 5/5", "Naïve question: do you ship to Åland?",
           "Größe 42; Farbe: Blau", "Zürich -- Genève -- Bern", "It's 9am; she's at lunch at 12",
           "Don't forget: drop-off at 4", "Update -> v2.0 -> v2.1", "email me @ work",
           "10 o'clock or 11 o'clock", "2 x 'Select' licences, 1 x 'Union' bundle",
           "The 'Table' view is better than 'Cards'", "Insert date here: __/__/____",
           "Sleep: 7h; benchmark: 8h", "Declared value: €0", "FROM: Kari, TO: Per",
           "WHERE: Oslo; WHEN: Friday", "AND finally -- thank you!", "OR call us",
           "Company \"Acme\" Ltd", "Nickname: \"Kiki\"", "She wrote: \"see you at 5\"",
           "12\" pizza, extra cheese", "27\" monitor, 2 pcs", "5'11\" tall", "Size 10\" x 8\"",
           "\"Urgent\" in the subject line", "Title: \"Q3 Plan -- draft\"", "He said \"or else\", jokingly",
           "\"Where is my order?\" -- 3rd email", "Say \"hi\" to D'Angelo from me",
           "Reply \"STOP\" to unsubscribe", "\"Select\" tier, not \"Union\" tier",
           "The sign reads \"Drop-off & Pick-up\""]
    return out


def markdown():
    out = ["**bold**", "**Urgent:** please call back", "_italic_ note", "*emphasis* here",
           "## Heading", "### Next steps", "#### Details", "- [ ] task", "- [x] sent invoice",
           "- [ ] call back Kerry O'Neil-Smith", "* item one", "1. Open the app",
           "> quoted reply from O'Brien", "[docs](https://example.com/a?b=1&c=2)",
           "![logo](https://example.com/logo.png)", "`Settings > Billing`", "~~old price~~ new price",
           "| Qty | Price |", "| 2 | €19.99 |", "|---|---|", "<details>more</details>",
           "Line one<br>line two", "**Order** #123 -- _shipped_", "## Release notes v1.2.3",
           "### Q&A", "- [ ] update the order", "- [ ] delete old draft", "- [x] select courier",
           "**Where:** Union Square Café", "**When:** Friday 9am", "_see attached_",
           "[Table Mountain Tours](https://tablemountain.example/?utm_source=crm)",
           "[unsubscribe](https://example.com/u?id=42&t=abc)", "Footnote[^1]", "[^1]: see page 2",
           "***Important***", "__bold__", "==highlight==", "H~2~O", "x^2^", "- - -"]
    tasks = ["update the order", "delete the old draft", "select a courier", "insert the PO number",
             "order more paper", "drop off the keys", "benchmark the new laptop", "book a table",
             "call D'Angelo & Sons", "email o'brien@example.com", "send INV-2025-0042", "sleep on it"]
    for t in tasks:
        out.append("- [ ] " + t)
        cap = t[0].upper() + t[1:]
        out.append("- [x] " + cap)
        out.append("**%s**" % cap)
        out.append("1. %s" % cap)
    for _ in range(20):
        out.append("[%s](https://example.com/%s?id=%d&ref=%s)" % (
            pick(["invoice", "order", "docs", "status", "ticket"]), pick(["orders", "inv", "help"]),
            rng.randint(1, 9999), pick(["email", "crm", "sms"])))
    return out


def foreign():
    return [
        # German
        "Bitte die Bestellung bis Freitag aktualisieren.", "Sehr geehrte Damen und Herren,",
        "Wo ist meine Bestellung von letzter Woche?", "Können Sie den alten Entwurf löschen?",
        "Die Rechnung INV-2025-0012 ist noch offen.", "Mit freundlichen Grüßen, Jürgen Müller",
        "Lieferung an: Müller & Söhne GmbH, Hauptstraße 1a", "Größe: 42; Farbe: Dunkelblau",
        "Wählen Sie bitte die Option \"Express\" aus.", "Tisch für 4 Personen um 19:30 Uhr",
        "Ich schlafe drüber und melde mich morgen.", "Das Update hat alles kaputt gemacht :(",
        # French
        "Pouvez-vous sélectionner l'option « express » ?", "J'ai besoin d'une mise à jour de ma commande.",
        "Où est ma commande de la semaine dernière ?", "Merci de supprimer l'ancien brouillon.",
        "C'est urgent -- merci d'avance !", "Cordialement, Hélène L'Écuyer",
        "L'adresse de livraison a changé : 5 rue de l'Église.", "Aujourd'hui ou demain, peu importe.",
        "Une table pour deux, s'il vous plaît.", "Le devis est valable jusqu'au 30/04.",
        "Qu'est-ce que « l'union » veut dire dans votre offre ?", "Prix : 1 234,56 € TTC",
        # Spanish
        "¿Dónde está mi pedido de la semana pasada?", "Por favor, elimine el borrador anterior.",
        "Necesito actualizar mi dirección de envío.", "¿Pueden seleccionar la tarifa más barata?",
        "Mesa para seis, a las 21:00, a nombre de Núñez.", "Gracias -- todo perfecto.",
        "El pedido n.º 10045 llegó incompleto.", "Saludos cordiales, José Álvarez",
        "¡Feliz año nuevo! ¿Abren el 2 de enero?", "Dirección: Calle Mayor, 7, 3º Izq.",
        # Norwegian
        "Hei! Kan dere oppdatere bestillingen min?", "Takk for sist – det gikk fint.",
        "Jeg trenger å slette den gamle kontoen.", "Hvor er bestillingen min fra forrige uke?",
        "Pris: kr 499,- inkl. mva.", "Levering til Storgata 5B, 5003 Bergen.",
        "Kan dere velge billigste frakt?", "Mvh Øystein Bråthen", "Bord til fire kl. 19.30, takk.",
        "Jeg sover på det og gir beskjed i morgen.", "Fakturaen gjelder ordre 4412; den gamle er slettet.",
        "Blåbærsyltetøy, 2 glass", "Æ, ø og å fungerer ikke i PDF-en",
        # Japanese
        "注文の状況を教えてください。", "先週の注文はどこですか？", "請求書を再送してください。",
        "よろしくお願いいたします。", "古い下書きを削除してください。", "配送先住所を更新したいです。",
        "テーブルを4名で予約したいです。", "株式会社サクラ 田中 太郎", "価格は¥12,800（税込）です。",
        "明日の午前中に届きますか？",
        # misc
        "Grazie mille, Giulia Dell'Olio", "Dziękuję bardzo!", "Спасибо за помощь!", "Tack så mycket!",
        "Obrigado -- até amanhã", "Dank je wel voor de snelle reactie.", "Kiitos!", "감사합니다",
        "谢谢您的帮助", "شكرا جزيلا", "תודה רבה",
    ]


def code_lines():
    sql = [
        "The report uses `SELECT name FROM clients WHERE id = 3`",
        "Our nightly export runs ```SELECT id, email FROM contacts WHERE created_at > '2025-01-01'```",
        "Is `UPDATE invoices SET status = 'paid' WHERE id = 42` safe to run on our side?",
        "I ran `DELETE FROM drafts WHERE owner_id = 7;` by mistake -- can you restore from backup?",
        "```sql SELECT count(*) FROM orders GROUP BY region; ```",
        "We insert notes with `INSERT INTO notes (body) VALUES ('Call O''Brien');`",
        "Index suggestion: `CREATE INDEX idx_orders_customer ON orders (customer_id);`",
        "Dashboard widget query: `SELECT * FROM orders ORDER BY created_at DESC LIMIT 10`",
        "Your docs say `WHERE name LIKE 'D''Angelo%'` should match -- it doesn't.",
        "Join we use: `SELECT a.name, b.total FROM accounts a JOIN orders b ON a.id = b.account_id`",
        "Combined view: `SELECT region FROM sales UNION SELECT region FROM returns`",
        "Our DBA ran `EXEC sp_who2` and saw blocking around 02:00.",
        "`DROP TABLE IF EXISTS tmp_import;` runs at the end of our ETL, is that a problem?",
        "The slow log shows `SELECT pg_sleep(0.1)` -- is that your health check?",
        "```SELECT c.name, SUM(i.amount) FROM customers c JOIN invoices i ON i.customer_id = c.id GROUP BY c.name```",
        "Filter I need: `WHERE status IN ('open', 'pending') AND due_date < CURRENT_DATE`",
        "Can you add `ORDER BY last_name, first_name` to the export?",
        "Error in your API log: `syntax error at or near \"WHERE\"` -- happens on every sync.",
        "Reporting tool generates `SELECT TOP 100 * FROM dbo.Contacts WHERE Country = N'Norway'`",
        "Migration script: `ALTER TABLE customers ADD COLUMN vat_number varchar(20);`",
        "`SELECT COUNT(DISTINCT customer_id) FROM orders WHERE created_at >= '2025-01-01'` gives 412, your UI says 415",
        "```sql UPDATE contacts SET phone = '+44 20 7946 0321' WHERE id = 1001; ```",
        "We tried `SELECT * FROM contacts WHERE email = 'o''brien@example.com'` and got 0 rows.",
        "Power BI sends `SELECT [Name], [Total] FROM [Sales] WHERE [Year] = 2025`",
        "Excel import: `=QUERY(A1:D100, \"select A, B where C > 100\")`",
        "SQLite file from the offline app: `SELECT * FROM sync_queue WHERE sent = 0;`",
        "Our BI tool's `SELECT 1` keep-alive shows up in your audit log",
        "Stored proc we call: `EXEC dbo.usp_GetInvoices @CustomerId = 42, @Year = 2025`",
        "Could you run `VACUUM ANALYZE orders;` on your side after the import?",
        "```SELECT id, total FROM invoices WHERE paid = false ORDER BY due_date``` returns duplicates",
        "`DECLARE @from date = '2025-01-01';` is at the top of the report script",
        "The CSV header came through as `id;name;\"O'Brien\";--;total`",
        "Try this filter in the UI: `status:open AND owner:\"Kari O'Neil\"`",
        "`SELECT CHAR(65)` returns 'A' in our SQL Server but not in your export",
        "Our view: `CREATE VIEW open_orders AS SELECT * FROM orders WHERE status = 'open';`",
    ]
    other = [
        "`fn main() {}`",
        "```rust fn main() { println!(\"Hello, {}!\", name); } ```",
        "`curl -H 'Accept: application/json' 'https://api.example.com/v1/contacts?page=2&limit=50'`",
        "`{\"name\": \"O'Brien\", \"tags\": [\"vip\", \"b2b\"], \"active\": true}`",
        "Payload we send: {\"order_id\": 123, \"note\": \"leave at door -- side gate\"}",
        "`docker compose up -d && docker compose logs -f api`",
        "`grep -i 'timeout' app.log | tail -n 50`",
        "`python3 -m venv .venv && source .venv/bin/activate`",
        "`npm install --save-dev eslint@8`",
        "`git checkout -b fix/login-redirect`",
        "`let total: f64 = items.iter().map(|i| i.price).sum();`",
        "`if (a && b || !c) { return; }`",
        "`for i in $(seq 1 5); do echo \"$i\"; done`",
        "`export API_KEY=\"sk_test_123\"; ./sync.sh --dry-run`",
        "`kubectl get pods -n crm -o wide`",
        "Regex we use for order numbers: `^ORD-\\d{6}$`",
        "`<input type=\"text\" name=\"company\" value=\"Order &amp; Chaos Ltd\">`",
        "`const url = `/api/orders?from=${start}&to=${end}`;`",
        "```json {\"event\": \"order.updated\", \"data\": {\"id\": 42, \"status\": \"shipped\"}} ```",
        "`cargo test -- --nocapture`",
        "`ssh deploy@203.0.113.10 'sudo systemctl restart crm'`",
        "`print(f\"{customer['name']} owes {amount:.2f}\")`",
        "`Get-ChildItem -Path C:\\Exports -Filter *.csv | Remove-Item -WhatIf`",
        "Webhook header: `X-Signature: sha256=3f2a...`",
        "`SELECT` is greyed out in the report builder menu",
        "`match status { Status::Open => 1, _ => 0 }`",
        "`awk -F';' '{ sum += $3 } END { print sum }' export.csv`",
        "`jq '.items[] | select(.qty > 1) | .sku' order.json`",
        "`<?php echo htmlspecialchars($name); ?>` shows O&#039;Brien",
        "`xcopy \\\\fileserver\\exports\\*.csv D:\\backup /Y`",
    ]
    return sql, other


HEADER_BENIGN = [
    "Benign values for the Palisade SQL-injection detector tests (expected: NOT flagged).",
    "Generated by tests/corpus/make_benign.py (standard library, fixed seed %d); do not edit by hand." % SEED,
    "One value per line, as a CRM receives it in a query-string value or JSON string field.",
    "Lines starting with \"# \" are comments; data lines never start with \"# \".",
]
HEADER_CODE = [
    "Benign code snippets pasted into support tickets (SQL in backticks/fences, Rust, shell, JSON ...).",
    "Kept apart from benign.txt because a detector may legitimately treat quoted code differently.",
    "Generated by tests/corpus/make_benign.py (standard library, fixed seed %d); do not edit by hand." % SEED,
    "Lines starting with \"# \" are comments; data lines never start with \"# \".",
]


def write(path, header, lines):
    for l in lines:
        assert "\n" not in l and "\r" not in l, l
        assert not l.startswith("# ") and l != "#", l
        assert l == l.strip(), l
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for h in header:
            f.write("# " + h + "\n")
        for l in lines:
            f.write(l + "\n")


def main():
    benign = []
    for gen in (names, companies, ticket_text, markdown, emails, phones, dates, amounts,
                postcodes, urls, identifiers, free_text, addresses, foreign):
        benign.extend(gen())
    benign = uniq(benign)
    sql, other = code_lines()
    code = uniq(sql + other)
    code_set = dict.fromkeys(code)
    benign = [b for b in benign if b not in code_set]
    write(os.path.join(HERE, "benign.txt"), HEADER_BENIGN + ["%d lines." % len(benign)], benign)
    write(os.path.join(HERE, "benign_code.txt"),
          HEADER_CODE + ["%d lines (%d SQL snippets, %d other code)." % (len(code), len(sql), len(other))],
          code)
    print("benign.txt: %d lines, benign_code.txt: %d lines" % (len(benign), len(code)))


if __name__ == "__main__":
    main()
