"""Small built-in word lists for realistic seeded data (no Faker: deterministic and offline)."""

from __future__ import annotations

FIRST_NAMES = (
    "Alice",
    "Anna",
    "Astrid",
    "Benjamin",
    "Björn",
    "Camille",
    "Carlos",
    "Chloé",
    "Daniel",
    "David",
    "Elin",
    "Emma",
    "Erik",
    "Fatima",
    "Felix",
    "Freja",
    "Gustav",
    "Hanna",
    "Hugo",
    "Ida",
    "Isak",
    "Jonas",
    "Julia",
    "Karin",
    "Lars",
    "Léa",
    "Liam",
    "Linnea",
    "Lucas",
    "Maja",
    "Marco",
    "Mateo",
    "Mia",
    "Noah",
    "Nora",
    "Olivia",
    "Oscar",
    "Pablo",
    "Sara",
    "Sofia",
    "Theo",
    "Wilma",
    "Yusuf",
    "Zoë",
)

LAST_NAMES = (
    "Andersson",
    "Bauer",
    "Bernard",
    "Brown",
    "Dubois",
    "Eriksson",
    "Fischer",
    "García",
    "Hansen",
    "Jansen",
    "Johansson",
    "Jones",
    "Karlsson",
    "Lindqvist",
    "López",
    "Martin",
    "Meyer",
    "Miller",
    "Müller",
    "Nilsson",
    "Novak",
    "Olsson",
    "Persson",
    "Petit",
    "Rossi",
    "Schmidt",
    "Smith",
    "Svensson",
    "Taylor",
    "Visser",
    "Weber",
    "Williams",
    "de Vries",
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "inbox.example")

# country -> ((city, region), ...), streets, zip format ('#' becomes a digit, 'A' a letter)
COUNTRIES: dict[str, tuple[tuple[tuple[str, str | None], ...], tuple[str, ...], str]] = {
    "US": (
        (
            ("San Francisco", "CA"),
            ("Brooklyn", "NY"),
            ("Austin", "TX"),
            ("Seattle", "WA"),
            ("Chicago", "IL"),
        ),
        ("Main Street", "Oak Avenue", "Maple Drive", "Market Street", "Pine Street"),
        "#####",
    ),
    "SE": (
        (
            ("Stockholm", "Stockholms län"),
            ("Göteborg", "Västra Götaland"),
            ("Malmö", "Skåne"),
            ("Uppsala", "Uppsala län"),
            ("Lund", "Skåne"),
        ),
        ("Drottninggatan", "Storgatan", "Kungsgatan", "Södra vägen", "Linnégatan"),
        "### ##",
    ),
    "DE": (
        (
            ("Berlin", "Berlin"),
            ("München", "Bayern"),
            ("Hamburg", "Hamburg"),
            ("Frankfurt am Main", "Hessen"),
            ("Köln", "Nordrhein-Westfalen"),
        ),
        ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee"),
        "#####",
    ),
    "GB": (
        (
            ("London", None),
            ("Manchester", None),
            ("Edinburgh", "Scotland"),
            ("Cardiff", "Wales"),
            ("Bristol", None),
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Road"),
        "A## #AA",
    ),
    "FR": (
        (
            ("Paris", "Île-de-France"),
            ("Toulouse", "Occitanie"),
            ("Rennes", "Bretagne"),
            ("Lyon", "Auvergne-Rhône-Alpes"),
            ("Nantes", "Pays de la Loire"),
        ),
        ("Rue de la Paix", "Avenue Victor Hugo", "Rue du Moulin", "Boulevard Voltaire"),
        "#####",
    ),
    "NL": (
        (
            ("Amsterdam", "Noord-Holland"),
            ("Rotterdam", "Zuid-Holland"),
            ("Utrecht", "Utrecht"),
            ("Den Haag", "Zuid-Holland"),
            ("Haarlem", "Noord-Holland"),
        ),
        ("Keizersgracht", "Dorpsstraat", "Kerkstraat", "Stationsweg"),
        "#### AA",
    ),
}

# Catalogue per currency: (item_id, description, unit_amount in minor units).
# The upstream sends item_id sometimes as a string and sometimes as an integer in the
# same list; mixing both kinds here makes that quirk appear throughout the data.
CATALOGUE: dict[str, tuple[tuple[str | int, str, int], ...]] = {
    "USD": (
        ("100100", "Coffee beans, 500 g", 1400),
        (101, "Monthly roast box", 2900),
        ("100200", "Paper filters (100)", 450),
        (102, "Grinder cleaning tablets", 900),
        ("100300", "Barista course seat", 12000),
        (103, "Espresso cups, set of 4", 3200),
        ("100400", "Gift wrapping", 300),
    ),
    "EUR": (
        ("200100", "Yoga class pass", 1500),
        (201, "Monthly membership", 4900),
        ("200200", "Mat rental", 200),
        (202, "Personal session", 6500),
        ("200300", "Workshop weekend", 18000),
        (203, "Water bottle", 1200),
    ),
    "SEK": (
        ("300100", "Bokcirkel, månad", 14900),
        (301, "Pocketbok", 12900),
        ("300200", "Inbunden bok", 29900),
        (302, "Frakt", 4900),
        ("300300", "Presentkort", 50000),
        (303, "Bokmärke", 2900),
    ),
}

CARRIERS = ("PostNord", "DHL", "UPS", "DPD", "Bring")

HOOK_URLS = (
    "https://hooks.example.com/spaces/events",
    "https://crm.example.org/webhooks/spaces",
    "https://zapier.example.net/hooks/catch/123456/abcdef/",
)
