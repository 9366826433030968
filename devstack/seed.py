"""Deterministic generator and bulk loader for the source database (MySQL `classicmodels` + `ratings`).

The local stack and the tests need a source shaped like the production read replica: the classic
`classicmodels` tables plus `ratings`, one rating per purchased (customer, product) pair. This module
makes that data from a fixed seed, so the same `scale` and `as_of` always give byte-identical tables.

Two scales:

- `sample`: the size of the public sample database (122 customers, 110 products, 7 product lines,
  326 orders, ~3,000 order lines, ~2,500 ratings). Fast enough for every test.
- `production`: 100,000 customers, 12,000 products, 330,000 orders, ~1.65 M order lines and
  ~1.65 M ratings. Generated with numpy in ~7 s, written as TSV and loaded with
  `LOAD DATA LOCAL INFILE` in 20-50 s on 2 cores; ~1.1 GB of memory at peak.

Ratings come from a latent taste model (customer and product factors, product-line directions,
rater and product biases), and customers buy more from the product lines they like, so a
recommender trained on the data can learn something. Order dates cover the two years that end on
`as_of`; everything else is independent of `as_of`.

The announced additive change `orders.orderTimestamp` (`add_order_timestamp.sql`) is opt-in:
`order_timestamps=True` (CLI `--order-timestamps`) generates it and loads it; without it the source is
the schema as it is today, byte for byte. Each order is placed on its `orderDate`, at a time of day that
follows its customer's business hours (UTC offset of the sales territory) and never after `now`: the orders
of an `as_of` that is today are spread over the part of the day that has passed. The timestamps come from
their own random stream, so no other column changes.

`generate()` is pure (no I/O) and returns one `pyarrow.Table` per table; `load()` writes them as
TSV files and bulk loads them; `seed_source()` does both. Command line:

    python -m devstack.seed --host 127.0.0.1 --port 3307 --user dp_admin \
        --password-env LOCAL_MYSQL_ADMIN_PASSWORD --scale sample|production [--as-of 2025-06-30] \
        [--order-timestamps]
"""

from __future__ import annotations

import argparse
import json
import os
import string
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, NamedTuple

import MySQLdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

Scale = Literal["sample", "production"]

SEED = 20_040_307
SCHEMA_FILE = Path(__file__).with_name("source_schema.sql")
ORDER_TIMESTAMP_FILE = Path(__file__).with_name("add_order_timestamp.sql")
ORDER_TIMESTAMP = "orderTimestamp"
# Parents before children: the order of generation and of loading.
TABLES = (
    "productlines",
    "products",
    "offices",
    "employees",
    "customers",
    "orders",
    "orderdetails",
    "payments",
    "ratings",
)
HISTORY_DAYS = 730
TASTE_FACTORS = 8
LINE_TASTE = 0.8  # how strongly taste steers purchases towards product lines
POPULARITY_SPREAD = 0.3  # sigma of the log-normal product popularity
# Rating score = rater bias + product bias + TASTE_WEIGHT * taste affinity + noise: about 45% of its
# variance is taste, 30% biases, 25% noise. The cuts give roughly 5/10/25/35/25% of 1..5 stars.
TASTE_WEIGHT = 0.75
RATING_CUTS = np.array([-1.5, -0.9, -0.2, 0.6])


@dataclass(frozen=True)
class ScaleSpec:
    """Row counts and shape parameters of one scale."""

    customers: int
    idle_customers: int  # customers who never ordered (so have no rating)
    products: int
    unsold_products: int  # products nobody ordered (new arrivals)
    orders: int
    mean_lines_per_order: float
    max_lines_per_order: int
    sales_reps: int


SCALES: Mapping[Scale, ScaleSpec] = {
    "sample": ScaleSpec(
        customers=122,
        idle_customers=24,
        products=110,
        unsold_products=2,
        orders=326,
        mean_lines_per_order=10.2,
        max_lines_per_order=18,
        sales_reps=16,
    ),
    "production": ScaleSpec(
        customers=100_000,
        idle_customers=10_000,
        products=12_000,
        unsold_products=150,
        orders=330_000,
        mean_lines_per_order=5.0,
        max_lines_per_order=18,
        sales_reps=100,
    ),
}

# --------------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------------

# (product line, share of the catalogue, description)
PRODUCT_LINES: tuple[tuple[str, float, str], ...] = (
    ("Classic Cars", 0.35, "Die-cast replicas of the great automobiles of the 1940s to the 2000s, "
     "with opening doors and hoods, detailed engines and authentic paint."),
    ("Motorcycles", 0.12, "Highly detailed motorcycle models with working kickstands, rubber tires, "
     "chrome details and authentic manufacturer markings."),
    ("Planes", 0.11, "Military and civil aircraft, from World War I biplanes to jumbo jets, with "
     "moving propellers, retractable landing gear and detailed cockpits."),
    ("Ships", 0.08, "Famous sailing ships, ocean liners and battleships, hand-finished with "
     "detailed rigging, decks and lifeboats."),
    ("Trains", 0.04, "Locomotives and rolling stock from the age of steam to high-speed rail, "
     "for display or for the collector's layout."),
    ("Trucks and Buses", 0.10, "Trucks, pickups, vans and buses of every era, with opening "
     "doors, detailed cabs and realistic cargo beds."),
    ("Vintage Cars", 0.20, "Cars from the dawn of motoring to the 1940s: brass-era tourers, "
     "roadsters and limousines with spoked wheels and fold-down tops."),
)
LINE_NAMES = tuple(name for name, _, _ in PRODUCT_LINES)

# scale -> (code prefix, buy price range in dollars)
SCALE_INFO: Mapping[str, tuple[str, float, float]] = {
    "1:10": ("S10", 60.0, 102.0),
    "1:12": ("S12", 50.0, 96.0),
    "1:18": ("S18", 30.0, 90.0),
    "1:24": ("S24", 18.0, 62.0),
    "1:32": ("S32", 15.0, 48.0),
    "1:50": ("S50", 15.0, 42.0),
    "1:72": ("S72", 20.0, 56.0),
    "1:700": ("S700", 28.0, 80.0),
}
SCALE_NAMES = tuple(SCALE_INFO)
CODES_PER_SCALE = 9_000  # product numbers 1000..9999 under each prefix

# line -> (scale shares, first model year, last model year, models)
LINE_CATALOGUE: Mapping[str, tuple[Mapping[str, float], int, int, tuple[str, ...]]] = {
    "Classic Cars": (
        {"1:10": 0.15, "1:12": 0.15, "1:18": 0.45, "1:24": 0.25}, 1948, 2005,
        ("Ford Mustang", "Chevrolet Corvette", "Ferrari Enzo", "Porsche 911", "Jaguar E-Type",
         "Aston Martin DB5", "Alfa Romeo GTV", "Dodge Charger", "Plymouth Barracuda", "Pontiac GTO",
         "Shelby Cobra", "Mercedes-Benz 300SL", "Lamborghini Diablo", "BMW Z3", "Buick Riviera",
         "Cadillac Eldorado", "Citroen DS", "Toyota Supra", "Datsun 240Z", "Chevrolet Camaro"),
    ),
    "Motorcycles": (
        {"1:10": 0.3, "1:12": 0.15, "1:18": 0.1, "1:24": 0.15, "1:32": 0.15, "1:50": 0.15}, 1936, 2004,
        ("Harley Davidson Ultimate Chopper", "Ducati 996", "Honda CBR900RR", "BMW R75",
         "Triumph Bonneville", "Indian Chief", "Moto Guzzi V7", "Kawasaki Z1", "Yamaha YZF-R1",
         "Vespa GS"),
    ),
    "Planes": (
        {"1:18": 0.15, "1:24": 0.25, "1:72": 0.4, "1:700": 0.2}, 1917, 2005,
        ("Supermarine Spitfire", "Boeing 747", "P-51 Mustang", "Douglas DC-3",
         "Lockheed Constellation", "Concorde", "F/A-18 Hornet", "Vought F4U Corsair",
         "Messerschmitt Bf 109", "Airbus A380", "Piper J-3 Cub", "Sopwith Camel"),
    ),
    "Ships": (
        {"1:18": 0.15, "1:24": 0.15, "1:72": 0.3, "1:700": 0.4}, 1620, 1998,
        ("Titanic", "HMS Bounty", "Queen Mary", "USS Constitution", "Mayflower", "Cutty Sark",
         "Bismarck", "Endeavour", "America's Cup Yacht", "Pont Yacht"),
    ),
    "Trains": (
        {"1:18": 0.35, "1:32": 0.3, "1:50": 0.35}, 1880, 1990,
        ("Union Pacific Big Boy", "Flying Scotsman", "Orient Express", "Mallard",
         "Shinkansen 0 Series", "Collectable Wooden Train", "Chesapeake Steam Engine",
         "Santa Fe Super Chief"),
    ),
    "Trucks and Buses": (
        {"1:12": 0.2, "1:18": 0.3, "1:24": 0.2, "1:32": 0.1, "1:50": 0.2}, 1926, 2003,
        ("Ford F-150", "Mack Model B", "Volkswagen Type 2", "Greyhound Scenicruiser", "Peterbilt 379",
         "Dodge Power Wagon", "Chevy Pickup", "Double Decker Bus", "Kenworth W900", "Diamond T620"),
    ),
    "Vintage Cars": (
        {"1:18": 0.5, "1:24": 0.3, "1:32": 0.1, "1:50": 0.1}, 1903, 1940,
        ("Ford Model T", "Bugatti Type 35", "Duesenberg SJ", "Rolls-Royce Silver Ghost",
         "Packard Eight", "Mercedes SSK", "Cord 812", "Auburn Speedster", "Chrysler Imperial",
         "Hispano-Suiza H6", "Bentley Blower", "Alfa Romeo 8C"),
    ),
}
EDITIONS = ("", "", "", "", " Limited Edition", " Special Edition", " Anniversary Edition", " Racing")
MATERIALS = ("die-cast", "die-cast metal", "hand-built wooden", "resin", "die-cast zinc alloy")
FEATURES = (
    "Features opening doors, a detailed engine and working steering.",
    "Features rubber tires, a detailed interior and authentic paint.",
    "Features opening hood and trunk, chrome trim and a display stand.",
    "Features moving parts, removable panels and a numbered certificate.",
    "Hand-painted details; comes with a wooden display base.",
    "Official licensed product with original markings and decals.",
    "Features working suspension, spoked wheels and a fold-down top.",
    "Every panel opens; the engine can be removed for display.",
)
VENDORS = (
    "Min Lin Diecast", "Classic Metal Creations", "Highway 66 Mini Classics", "Red Start Diecast",
    "Motor City Art Classics", "Second Gear Diecast", "Autoart Studio Design",
    "Welly Diecast Productions", "Unimax Art Galleries", "Studio M Art Models", "Exoto Designs",
    "Gearbox Collectibles", "Carousel DieCast Legends",
)

# country -> (dialling code, sales territory, local phone number pattern; '#' is a digit)
COUNTRIES: Mapping[str, tuple[str, str, str]] = {
    "USA": ("1", "NA", "555 ####"), "Canada": ("1", "NA", "555 ####"),
    "UK": ("44", "EMEA", "#### ####"), "France": ("33", "EMEA", "## ## ## ##"),
    "Germany": ("49", "EMEA", "### ####"), "Spain": ("34", "EMEA", "### ## ##"),
    "Italy": ("39", "EMEA", "#### ###"), "Switzerland": ("41", "EMEA", "### ## ##"),
    "Austria": ("43", "EMEA", "### ###"), "Belgium": ("32", "EMEA", "## ## ##"),
    "Netherlands": ("31", "EMEA", "### ####"), "Denmark": ("45", "EMEA", "## ## ## ##"),
    "Norway": ("47", "EMEA", "## ## ## ##"), "Sweden": ("46", "EMEA", "### ## ##"),
    "Finland": ("358", "EMEA", "### ####"), "Ireland": ("353", "EMEA", "### ####"),
    "Portugal": ("351", "EMEA", "### ###"), "Poland": ("48", "EMEA", "### ## ##"),
    "Israel": ("972", "EMEA", "### ####"), "South Africa": ("27", "EMEA", "### ####"),
    "Japan": ("81", "Japan", "####-####"), "Australia": ("61", "APAC", "#### ####"),
    "New Zealand": ("64", "APAC", "### ####"), "Singapore": ("65", "APAC", "#### ####"),
    "Hong Kong": ("852", "APAC", "#### ####"), "Philippines": ("63", "APAC", "### ####"),
}


class City(NamedTuple):
    name: str
    state: str | None
    country: str
    postal: str | None  # '#' digit, '@' capital letter; None: the city has no postal codes
    area: str  # phone area code
    weight: float  # share of customers


CITIES: tuple[City, ...] = (
    City("New York", "NY", "USA", "100##", "212", 6.0),
    City("San Francisco", "CA", "USA", "941##", "415", 4.0),
    City("Los Angeles", "CA", "USA", "900##", "213", 4.0),
    City("Boston", "MA", "USA", "021##", "617", 3.0),
    City("Cambridge", "MA", "USA", "021##", "617", 1.0),
    City("Philadelphia", "PA", "USA", "191##", "215", 2.0),
    City("Allentown", "PA", "USA", "181##", "610", 1.0),
    City("Chicago", "IL", "USA", "606##", "312", 3.0),
    City("Las Vegas", "NV", "USA", "891##", "702", 1.5),
    City("San Diego", "CA", "USA", "921##", "619", 1.5),
    City("Burlingame", "CA", "USA", "940##", "650", 1.0),
    City("San Jose", "CA", "USA", "951##", "408", 1.5),
    City("Seattle", "WA", "USA", "981##", "206", 2.0),
    City("New Haven", "CT", "USA", "065##", "203", 1.0),
    City("White Plains", "NY", "USA", "106##", "914", 1.0),
    City("Nashua", "NH", "USA", "030##", "603", 0.5),
    City("Austin", "TX", "USA", "787##", "512", 2.0),
    City("Denver", "CO", "USA", "802##", "303", 1.5),
    City("Miami", "FL", "USA", "331##", "305", 2.0),
    City("Atlanta", "GA", "USA", "303##", "404", 2.0),
    City("Vancouver", "BC", "Canada", "V6@ #@#", "604", 1.5),
    City("Toronto", "ON", "Canada", "M5@ #@#", "416", 2.0),
    City("Montréal", "Québec", "Canada", "H2@ #@#", "514", 1.5),
    City("London", None, "UK", "WC1@ #@@", "20", 3.0),
    City("Manchester", None, "UK", "M1 #@@", "161", 1.5),
    City("Liverpool", None, "UK", "L1 #@@", "151", 1.0),
    City("Cowes", "Isle of Wight", "UK", "PO31 #@@", "1983", 0.3),
    City("Paris", None, "France", "750##", "1", 3.0),
    City("Nantes", None, "France", "440##", "2", 1.0),
    City("Lyon", None, "France", "690##", "4", 1.5),
    City("Marseille", None, "France", "130##", "4", 1.5),
    City("Strasbourg", None, "France", "670##", "3", 1.0),
    City("Lille", None, "France", "590##", "3", 1.0),
    City("Toulouse", None, "France", "310##", "5", 1.0),
    City("Berlin", None, "Germany", "10###", "30", 2.5),
    City("Frankfurt", None, "Germany", "603##", "69", 1.5),
    City("München", None, "Germany", "80###", "89", 2.0),
    City("Köln", None, "Germany", "50###", "221", 1.5),
    City("Stuttgart", None, "Germany", "70###", "711", 1.0),
    City("Madrid", None, "Spain", "280##", "91", 2.5),
    City("Barcelona", None, "Spain", "080##", "93", 2.0),
    City("Sevilla", None, "Spain", "410##", "95", 1.0),
    City("Milano", None, "Italy", "201##", "02", 2.0),
    City("Torino", None, "Italy", "101##", "011", 1.0),
    City("Bergamo", None, "Italy", "241##", "035", 0.5),
    City("Roma", None, "Italy", "001##", "06", 1.5),
    City("Genève", None, "Switzerland", "120#", "22", 0.8),
    City("Bern", None, "Switzerland", "30##", "31", 0.5),
    City("Salzburg", None, "Austria", "50##", "662", 0.5),
    City("Graz", None, "Austria", "80##", "316", 0.5),
    City("Bruxelles", None, "Belgium", "10##", "2", 0.8),
    City("Charleroi", None, "Belgium", "60##", "71", 0.4),
    City("Amsterdam", None, "Netherlands", "10## @@", "20", 1.0),
    City("København", None, "Denmark", "1###", "33", 0.8),
    City("Århus", None, "Denmark", "8###", "86", 0.4),
    City("Oslo", None, "Norway", "0###", "22", 0.8),
    City("Stavern", None, "Norway", "3###", "33", 0.3),
    City("Stockholm", None, "Sweden", "1## ##", "8", 0.8),
    City("Luleå", None, "Sweden", "9## ##", "920", 0.3),
    City("Helsinki", None, "Finland", "00###", "9", 0.8),
    City("Espoo", None, "Finland", "02###", "9", 0.4),
    City("Dublin", None, "Ireland", None, "1", 0.8),
    City("Lisboa", None, "Portugal", "1###-###", "21", 0.6),
    City("Warszawa", None, "Poland", "0#-###", "22", 0.8),
    City("Herzlia", None, "Israel", "46###", "9", 0.4),
    City("Johannesburg", "Gauteng", "South Africa", "2###", "11", 0.5),
    City("Tokyo", "Tokyo", "Japan", "1##-####", "3", 2.0),
    City("Osaka", "Osaka", "Japan", "5##-####", "6", 1.0),
    City("Kita-ku", "Osaka", "Japan", "530-####", "6", 0.4),
    City("Melbourne", "Victoria", "Australia", "3###", "3", 1.5),
    City("Glen Waverly", "Victoria", "Australia", "31##", "3", 0.4),
    City("Sydney", "NSW", "Australia", "2###", "2", 1.8),
    City("Chatswood", "NSW", "Australia", "20##", "2", 0.4),
    City("Auckland", None, "New Zealand", "1###", "9", 0.8),
    City("Wellington", None, "New Zealand", "6###", "4", 0.4),
    City("Singapore", None, "Singapore", "0#####", "6", 1.0),
    City("Hong Kong", None, "Hong Kong", None, "2", 0.8),
    City("Makati City", "Metro Manila", "Philippines", "12##", "2", 0.4),
)

FIRST_NAMES = (
    "Carine", "Jean", "Peter", "Janine", "Jonas", "Susan", "Zbyszek", "Roland", "Julie", "Kwai",
    "Diego", "Christina", "Jytte", "Mary", "Eric", "Jeff", "Kelvin", "Juri", "Wendy", "Veysel",
    "Keitaro", "Mory", "Michael", "Yoshi", "Pascale", "Marta", "Giovanni", "Rosa", "Elizabeth",
    "Maria", "Dan", "Martín", "Paolo", "Daniel", "Frédérique", "Anna", "Sven", "Akiko", "Ann",
    "Francisca", "Leslie", "William", "Allen", "Valarie", "Steve", "Sue", "Brydey", "Georg",
    "Catherine", "Miguel", "Aiko", "Lars", "Ingrid", "Mei", "Raj", "Priya", "Tomás", "Chloé",
    "Noah", "Olivia", "Liam", "Emma", "Lukas", "Sofia", "Hiroshi", "Ava", "Mateo", "Isabella",
)
LAST_NAMES = (
    "Schmitt", "King", "Ferguson", "Labrune", "Bergulfsen", "Nelson", "Piestrzeniewicz", "Keitel",
    "Murphy", "Lee", "Freyre", "Berglund", "Petersen", "Saveley", "Natividad", "Young", "Leong",
    "Hashimoto", "Victorino", "Oeztan", "Franco", "de Castro", "Rancé", "Bertrand", "Tseng",
    "Kloss", "Ibsen", "Camino", "Thompson", "Firrelli", "Patterson", "Bondur", "Bow", "Jennings",
    "Vanauf", "Hernandez", "Castillo", "Gerard", "Nishi", "Kato", "Walker", "Roulet", "Fernandez",
    "Accorti", "Müller", "Larsson", "Andersen", "Rossi", "García", "Novak", "Kowalski", "Silva",
    "Dubois", "Wong", "Chen", "Tanaka", "Suzuki", "Smith", "Brown", "O'Hara", "Cartrain",
    "Holz", "Moreau", "Sommer", "Frick", "Pipps", "Huxley", "Barajas", "Tonini", "Ricotti",
)
COMPANY_WORDS = (
    "Atelier", "Signal", "Australian", "La Rochelle", "Baane", "Mini", "Classic", "Vintage", "Royal",
    "Diecast", "Collectable", "Auto", "Euro", "Corporate", "Heintze", "Muscle Machine", "Handji",
    "Toys4", "Volvo", "Danish", "Gift Depot", "Cruz &", "Scandinavian", "Lyon", "Marta's", "Boards &",
    "Double Decker", "Herkku", "Kelly's", "Tekni", "Anna's", "Rovelli", "Motor Mint", "Iberia",
    "Alpha", "Suominen", "Petit", "Precious", "Clover", "Blauer See", "Stylish", "Saveley &",
    "Enaco", "Osaka", "Quebec", "Oulu", "Canadian", "Down Under", "Gifts4All", "Bavarian",
    "Mit Vergnügen", "West Coast", "Salzburg", "Norwegian", "Microscale", "Cambridge", "Extreme",
)
COMPANY_NOUNS = (
    "Collectors", "Gifts", "Models", "Replicas", "Wheels", "Souvenirs", "Toys", "Classics", "Imports",
    "Traders", "Emporium", "Hobbies", "Collectables", "Miniatures", "Auto Replicas", "Diecast",
    "Gift Stores", "Mart", "Treasures", "Shopping Channel", "Model Shop", "Distributors",
)
COMPANY_SUFFIXES = ("", "", "", " Inc.", " Co.", " Ltd.", " Ltd", " GmbH", " Corp.", ", Co.", " & Co", " AG")
STREETS = (
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Main", "Church", "Market", "Harbour", "Mill", "Park",
    "Victoria", "King", "Queen", "Station", "High", "Bridge", "River", "Lake", "Hill", "Garden",
    "Chestnut", "Spruce", "Willow", "Orchard", "Forest", "Sunset", "Ocean", "Mountain", "Valley",
)
STREET_TYPES = ("Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Way", "Place", "Square", "Rd.")
ADDRESS_LINE2 = ("Suite ###", "Level #", "Floor ##", "PO Box ####", "Unit #@", "Building @")

STATUSES = ("Shipped", "Resolved", "Cancelled", "On Hold", "Disputed")
STATUS_SHARES = (0.93, 0.025, 0.02, 0.015, 0.01)
STATUS_COMMENTS: Mapping[str, tuple[str, ...]] = {
    "Resolved": (
        "Customer disputed the shipping charges; refunded the difference.",
        "Two models arrived damaged; replacements shipped and the case is closed.",
    ),
    "Cancelled": (
        "Customer cancelled: found a cheaper supplier.",
        "Cancelled because the credit limit was exceeded.",
        "Customer cancelled the order after the delivery date moved.",
    ),
    "On Hold": (
        "Credit limit exceeded. Will ship when a payment is received.",
        "Waiting for the customer to confirm the shipping address.",
    ),
    "Disputed": (
        "Customer claims the container with the shipment was damaged during shipping.",
        "Customer says the models do not match the colours in the catalogue.",
    ),
}
GENERAL_COMMENTS = (
    "Check on availability.",
    "Customer requested that FedEx Ground is used for this shipping.",
    "Customer very concerned about the exact colour of the models.",
    "Can we deliver the new models by the end of the quarter?",
    "Customer is interested in buying more Ferrari models.",
    "Please ship as soon as possible: this is a gift.",
    "Difficult to negotiate with the customer. We need more marketing materials.",
    "Customer requested special shipment. The instructions were passed along to the warehouse.",
)

OFFICES: tuple[tuple[str, str, str, str, str | None, str | None, str, str, str], ...] = (
    # officeCode, city, phone, addressLine1, addressLine2, state, country, postalCode, territory
    ("1", "San Francisco", "+1 650 219 4782", "100 Market Street", "Suite 300", "CA", "USA", "94080", "NA"),
    ("2", "Boston", "+1 215 837 0825", "1550 Court Place", "Suite 102", "MA", "USA", "02107", "NA"),
    ("3", "NYC", "+1 212 555 3000", "523 East 53rd Street", "apt. 5A", "NY", "USA", "10022", "NA"),
    ("4", "Paris", "+33 14 723 4404", "43 Rue Jouffroy D'abbans", None, None, "France", "75017", "EMEA"),
    ("5", "Tokyo", "+81 33 224 5000", "4-1 Kioicho", None, "Chiyoda-Ku", "Japan", "102-8578", "Japan"),
    ("6", "Sydney", "+61 2 9264 2451", "5-11 Wentworth Avenue", "Floor #2", None, "Australia",
     "NSW 2010", "APAC"),
    ("7", "London", "+44 20 7877 2041", "25 Old Broad Street", "Level 7", None, "UK", "EC2N 1HN", "EMEA"),
)
TERRITORIES = ("NA", "EMEA", "APAC", "Japan")
# territory -> (offices whose sales reps cover it, the office of its sales manager)
TERRITORY_OFFICES: Mapping[str, tuple[tuple[str, ...], str]] = {
    "NA": (("1", "2", "3"), "1"),
    "EMEA": (("4", "7"), "4"),
    "APAC": (("6",), "6"),
    "Japan": (("5",), "5"),
}
TERRITORY_REP_SHARE: Mapping[str, float] = {"NA": 0.45, "EMEA": 0.35, "APAC": 0.12, "Japan": 0.08}
# Order timestamps: local business hours (BUSINESS_HOURS, the BUSINESS_SHARE of orders; the rest at any hour)
# moved to UTC by the territory's typical offset.
TERRITORY_UTC_OFFSET_HOURS: Mapping[str, int] = {"NA": -6, "EMEA": 1, "APAC": 9, "Japan": 9}
BUSINESS_HOURS = (8, 20)
BUSINESS_SHARE = 0.85

# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------


def _rng(part: str) -> np.random.Generator:
    """One independent stream per table, so changing one table never shifts another."""
    return np.random.default_rng([SEED, zlib.crc32(part.encode())])


def _strings(values: Sequence[str]) -> np.ndarray:
    return np.array(list(values), dtype=np.str_)


def _fill_templates(templates: Sequence[str], which: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill `templates[which[i]]` for every row: each '#' becomes a digit, each '@' a capital letter."""
    width = max(len(t) for t in templates)
    grid = np.array([list(t.ljust(width, "\0")) for t in templates], dtype="<U1")[which]
    digits = _strings(string.digits)[rng.integers(0, 10, size=grid.shape)]
    letters = _strings(string.ascii_uppercase)[rng.integers(0, 26, size=grid.shape)]
    filled = np.where(grid == "#", digits, np.where(grid == "@", letters, grid))
    return np.ascontiguousarray(filled).view(f"<U{width}").ravel()


def _concat(*parts: np.ndarray | str) -> np.ndarray:
    out: np.ndarray | str = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    assert isinstance(out, np.ndarray)
    return out


def _round_cents(dollars: np.ndarray) -> np.ndarray:
    return np.rint(dollars * 100).astype(np.int64)


def _decimal(cents: np.ndarray) -> pa.Array:
    """A DECIMAL(10,2) arrow array from integer cents, exactly (no float formatting)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.stack([cents, cents >> 63], axis=1)  # little-endian 128-bit two's complement
    return pa.Array.from_buffers(pa.decimal128(10, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def _text(values: np.ndarray | Sequence[str | None], mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(values, type=pa.string(), mask=mask)


def _int(values: np.ndarray, mask: np.ndarray | None = None, *, small: bool = False) -> pa.Array:
    """INT (int32) or, with `small`, SMALLINT (int16)."""
    dtype, type_ = (np.int16, pa.int16()) if small else (np.int32, pa.int32())
    return pa.array(np.asarray(values).astype(dtype), type=type_, mask=mask)


def _date(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(values.astype("datetime64[D]"), type=pa.date32(), mask=mask)


def _productlines() -> pa.Table:
    return pa.table(
        {
            "productLine": _text(LINE_NAMES),
            "textDescription": _text([text for _, _, text in PRODUCT_LINES]),
            "htmlDescription": pa.nulls(len(LINE_NAMES), pa.string()),
            "image": pa.nulls(len(LINE_NAMES), pa.binary()),
        }
    )


@dataclass(frozen=True)
class _Catalogue:
    table: pa.Table
    line: np.ndarray  # product line index per product, products in productCode order
    msrp_cents: np.ndarray
    unsold: np.ndarray  # bool
    popularity: np.ndarray
    factors: np.ndarray  # (products, TASTE_FACTORS)
    bias: np.ndarray


def _products(spec: ScaleSpec, line_dirs: np.ndarray) -> _Catalogue:
    rng = _rng("products")
    n = spec.products
    shares = np.array([share for _, share, _ in PRODUCT_LINES])
    # Every line gets at least one product; the rest follow the catalogue shares.
    line = np.concatenate([np.arange(len(LINE_NAMES)), rng.choice(len(LINE_NAMES), n - len(LINE_NAMES),
                                                                  p=shares / shares.sum())])
    scale = np.empty(n, dtype=np.int64)
    model = np.empty(n, dtype=object)
    year = np.empty(n, dtype=np.int64)
    u_scale = rng.random(n)
    u_model = rng.random(n)
    u_year = rng.random(n)
    for index, name in enumerate(LINE_NAMES):
        scale_shares, first_year, last_year, models = LINE_CATALOGUE[name]
        rows = line == index
        cdf = np.cumsum(list(scale_shares.values()))
        picked = np.minimum(np.searchsorted(cdf / cdf[-1], u_scale[rows], side="right"), len(cdf) - 1)
        scale[rows] = np.array([SCALE_NAMES.index(s) for s in scale_shares])[picked]
        model[rows] = np.array(models, dtype=object)[(u_model[rows] * len(models)).astype(np.int64)]
        year[rows] = first_year + (u_year[rows] * (last_year - first_year + 1)).astype(np.int64)

    # Unique codes: distinct product numbers within each scale prefix, e.g. S18_3232.
    number = np.empty(n, dtype=np.int64)
    for index in range(len(SCALE_NAMES)):
        rows = np.flatnonzero(scale == index)
        if len(rows) > CODES_PER_SCALE:
            raise ValueError(f"more than {CODES_PER_SCALE} products at scale {SCALE_NAMES[index]}")
        number[rows] = 1000 + rng.choice(CODES_PER_SCALE, len(rows), replace=False)
    prefix = _strings([SCALE_INFO[s][0] for s in SCALE_NAMES])[scale]
    code = _concat(prefix, "_", number.astype(np.str_))

    name = _concat(year.astype(np.str_), " ", model.astype(np.str_),
                   _strings(EDITIONS)[rng.integers(0, len(EDITIONS), n)])
    scale_text = _strings(SCALE_NAMES)[scale]
    description = _concat(
        "This ", scale_text, " scale ", _strings(MATERIALS)[rng.integers(0, len(MATERIALS), n)],
        " replica of the ", name, " is finished by hand. ",
        _strings(FEATURES)[rng.integers(0, len(FEATURES), n)],
    )
    low = np.array([SCALE_INFO[s][1] for s in SCALE_NAMES])[scale]
    high = np.array([SCALE_INFO[s][2] for s in SCALE_NAMES])[scale]
    buy = _round_cents(low + rng.random(n) * (high - low))
    msrp = _round_cents(buy / 100 * rng.uniform(1.35, 2.1, n))
    stock = rng.integers(15, 10_000, n)
    vendor = _strings(VENDORS)[rng.integers(0, len(VENDORS), n)]

    # Taste model: products sit near their line's direction; popularity is heavy tailed.
    factors = line_dirs[line] + rng.normal(0.0, 0.35, (n, TASTE_FACTORS))
    bias = rng.normal(0.0, 0.35, n)
    popularity = rng.lognormal(0.0, POPULARITY_SPREAD, n)
    sizes = np.bincount(line, minlength=len(LINE_NAMES))
    eligible = np.flatnonzero(sizes[line] >= 5)
    unsold = np.zeros(n, dtype=bool)
    unsold[rng.choice(eligible, spec.unsold_products, replace=False)] = True

    order = np.argsort(code, kind="stable")
    table = pa.table(
        {
            "productCode": _text(code[order]),
            "productName": _text(name[order]),
            "productLine": _text(_strings(LINE_NAMES)[line[order]]),
            "productScale": _text(scale_text[order]),
            "productVendor": _text(vendor[order]),
            "productDescription": _text(description[order]),
            "quantityInStock": _int(stock[order], small=True),
            "buyPrice": _decimal(buy[order]),
            "MSRP": _decimal(msrp[order]),
        }
    )
    return _Catalogue(table, line[order], msrp[order], unsold[order], popularity[order], factors[order],
                      bias[order])


def _offices() -> pa.Table:
    columns = list(zip(*OFFICES, strict=True))
    names = ("officeCode", "city", "phone", "addressLine1", "addressLine2", "state", "country", "postalCode",
             "territory")
    return pa.table({name: _text(list(values)) for name, values in zip(names, columns, strict=True)})


@dataclass(frozen=True)
class _Staff:
    table: pa.Table
    reps_by_territory: Mapping[str, np.ndarray]  # employeeNumbers of the sales reps of each territory


def _employees(spec: ScaleSpec) -> _Staff:
    rng = _rng("employees")
    territory_of_office = {office[0]: office[8] for office in OFFICES}
    # (jobTitle, officeCode, index of the manager in this list or None)
    staff: list[tuple[str, str, int | None]] = [
        ("President", "1", None),
        ("VP Sales", "1", 0),
        ("VP Marketing", "1", 0),
    ]
    manager_of: dict[str, int] = {}
    for territory in TERRITORIES:
        manager_of[territory] = len(staff)
        staff.append((f"Sales Manager ({territory})", TERRITORY_OFFICES[territory][1], 1))
    rep_territory = rng.choice(len(TERRITORIES), spec.sales_reps,
                               p=[TERRITORY_REP_SHARE[t] for t in TERRITORIES])
    rep_territory[: len(TERRITORIES)] = np.arange(len(TERRITORIES))  # every territory has a rep
    for index in np.sort(rep_territory):
        territory = TERRITORIES[index]
        offices = TERRITORY_OFFICES[territory][0]
        staff.append(("Sales Rep", offices[int(rng.integers(0, len(offices)))], manager_of[territory]))

    number = 1002 + np.concatenate([[0], np.cumsum(rng.integers(1, 60, len(staff) - 1))])
    first = _strings(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), len(staff))]
    last = _strings(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), len(staff))]
    local = [
        "".join(ch for ch in (f[0] + ln).lower() if ch in string.ascii_lowercase)
        for f, ln in zip(first, last, strict=True)
    ]
    reports_to = np.array([0 if boss is None else number[boss] for _, _, boss in staff])
    table = pa.table(
        {
            "employeeNumber": _int(number),
            "lastName": _text(last),
            "firstName": _text(first),
            "extension": _text(_concat("x", rng.integers(1000, 10_000, len(staff)).astype(np.str_))),
            "email": _text([f"{name}@classicmodelcars.com" for name in local]),
            "officeCode": _text([office for _, office, _ in staff]),
            "reportsTo": _int(reports_to, mask=np.array([boss is None for _, _, boss in staff])),
            "jobTitle": _text([title for title, _, _ in staff]),
        }
    )
    reps = {
        territory: np.array([number[i] for i, (title, office, _) in enumerate(staff)
                             if title == "Sales Rep" and territory_of_office[office] == territory])
        for territory in TERRITORIES
    }
    return _Staff(table, reps)


@dataclass(frozen=True)
class _Clientele:
    table: pa.Table
    number: np.ndarray
    active: np.ndarray  # indices of the customers who order
    factors: np.ndarray
    bias: np.ndarray
    line_cdf: np.ndarray  # (customers, lines) cumulative product-line preference


def _customers(spec: ScaleSpec, staff: _Staff, line_dirs: np.ndarray) -> _Clientele:
    rng = _rng("customers")
    n = spec.customers
    number = 103 + np.sort(rng.choice(4 * n, n, replace=False))
    active = np.sort(rng.choice(n, n - spec.idle_customers, replace=False))
    is_active = np.zeros(n, dtype=bool)
    is_active[active] = True

    weights = np.array([city.weight for city in CITIES])
    city = rng.choice(len(CITIES), n, p=weights / weights.sum())
    country = _strings([c.country for c in CITIES])[city]
    state = np.array([c.state or "" for c in CITIES], dtype=np.str_)[city]
    state_null = np.array([c.state is None for c in CITIES])[city]
    postal_templates = [c.postal or "" for c in CITIES]
    postal = _fill_templates(postal_templates, city, rng)
    postal_null = np.array([c.postal is None for c in CITIES])[city]
    phone_templates = [
        f"+{COUNTRIES[c.country][0]} {c.area} {COUNTRIES[c.country][2]}" for c in CITIES
    ]
    phone = _fill_templates(phone_templates, city, rng)

    name = _concat(
        _strings(COMPANY_WORDS)[rng.integers(0, len(COMPANY_WORDS), n)], " ",
        _strings(COMPANY_NOUNS)[rng.integers(0, len(COMPANY_NOUNS), n)],
        _strings(COMPANY_SUFFIXES)[rng.integers(0, len(COMPANY_SUFFIXES), n)],
    )
    address1 = _concat(
        rng.integers(1, 9_999, n).astype(np.str_), " ",
        _strings(STREETS)[rng.integers(0, len(STREETS), n)], " ",
        _strings(STREET_TYPES)[rng.integers(0, len(STREET_TYPES), n)],
    )
    address2 = _fill_templates(ADDRESS_LINE2, rng.integers(0, len(ADDRESS_LINE2), n), rng)
    address2_null = rng.random(n) >= 0.12

    credit = _round_cents(np.clip(rng.lognormal(np.log(80_000), 0.45, n), 5_000, 250_000))
    credit[~is_active & (rng.random(n) < 0.7)] = 0  # prospects: no credit granted yet

    territory = np.array([COUNTRIES[c.country][1] for c in CITIES])[city]
    rep = np.zeros(n, dtype=np.int64)
    rep_draw = rng.random(n)
    for name_, reps in staff.reps_by_territory.items():
        rows = territory == name_
        rep[rows] = reps[(rep_draw[rows] * len(reps)).astype(np.int64)]
    rep_null = ~is_active & (rng.random(n) < 0.8)

    # Taste: a latent vector per customer; product-line preference follows it.
    factors = rng.normal(0.0, 1.0 / np.sqrt(TASTE_FACTORS), (n, TASTE_FACTORS)) * 1.6
    bias = rng.normal(0.0, 0.35, n)
    shares = np.array([share for _, share, _ in PRODUCT_LINES])
    logits = np.log(shares) + LINE_TASTE * factors @ line_dirs.T
    prefs = np.exp(logits - logits.max(axis=1, keepdims=True))
    line_cdf = np.cumsum(prefs / prefs.sum(axis=1, keepdims=True), axis=1)

    table = pa.table(
        {
            "customerNumber": _int(number),
            "customerName": _text(name),
            "contactLastName": _text(_strings(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]),
            "contactFirstName": _text(_strings(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]),
            "phone": _text(phone),
            "addressLine1": _text(address1),
            "addressLine2": _text(address2, mask=address2_null),
            "city": _text(_strings([c.name for c in CITIES])[city]),
            "state": _text(state, mask=state_null),
            "postalCode": _text(postal, mask=postal_null),
            "country": _text(country),
            "salesRepEmployeeNumber": _int(rep, mask=rep_null),
            "creditLimit": _decimal(credit),
        }
    )
    return _Clientele(table, number, active, factors, bias, line_cdf)


def _sales(
    spec: ScaleSpec, as_of: date, catalogue: _Catalogue, clientele: _Clientele
) -> dict[str, pa.Table]:
    rng = _rng("orders")
    n_orders = spec.orders
    active = clientele.active
    if n_orders < len(active):
        raise ValueError("every active customer needs an order: orders < customers - idle_customers")

    # Orders: one for every active customer, the rest to frequent buyers; volume grows over time.
    loyalty = rng.gamma(1.2, 1.0, len(active))
    customer = np.concatenate([active, rng.choice(active, n_orders - len(active), p=loyalty / loyalty.sum())])
    growth = 0.6
    u = rng.random(n_orders)
    t = (np.sqrt(1 + 2 * growth * u * (1 + growth / 2)) - 1) / growth  # density 1 + growth * t on [0, 1]
    day = np.minimum((t * HISTORY_DAYS).astype(np.int64), HISTORY_DAYS - 1)
    order = np.lexsort((customer, day))
    customer, day = customer[order], day[order]
    first_day = np.datetime64(as_of, "D") - (HISTORY_DAYS - 1)
    order_date = first_day + day
    required_date = order_date + rng.integers(7, 11, n_orders)
    shipped_date = order_date + rng.integers(1, 9, n_orders)
    status = rng.choice(len(STATUSES), n_orders, p=STATUS_SHARES)
    unshipped = np.isin(status, [STATUSES.index("Cancelled"), STATUSES.index("On Hold")])
    in_process = ~unshipped & (shipped_date > np.datetime64(as_of, "D"))
    status_text = np.where(in_process, "In Process", _strings(STATUSES)[status])
    shipped_null = unshipped | in_process
    comment = _strings(GENERAL_COMMENTS)[rng.integers(0, len(GENERAL_COMMENTS), n_orders)]
    comment_pick = rng.random(n_orders)
    for text in STATUS_COMMENTS:
        options = _strings(STATUS_COMMENTS[text])
        rows = status_text == text
        comment[rows] = options[(comment_pick[rows] * len(options)).astype(np.int64)]
    quiet = (status_text == "Shipped") & (rng.random(n_orders) >= 0.1)
    comment_null = quiet | (status_text == "In Process")
    order_number = 10_100 + np.arange(n_orders)

    # Order lines: a product line by the customer's taste, then a product by popularity.
    lines = np.clip(1 + rng.poisson(spec.mean_lines_per_order - 1, n_orders), 1, spec.max_lines_per_order)
    line_order = np.repeat(np.arange(n_orders), lines)
    line_customer = customer[line_order]
    cdf = clientele.line_cdf[line_customer]
    chosen_line = np.minimum((rng.random(len(line_order))[:, None] > cdf).sum(axis=1), len(LINE_NAMES) - 1)
    pick = rng.random(len(line_order))
    product = np.empty(len(line_order), dtype=np.int64)
    weight = np.where(catalogue.unsold, 0.0, catalogue.popularity)
    for index in range(len(LINE_NAMES)):
        members = np.flatnonzero(catalogue.line == index)
        member_cdf = np.cumsum(weight[members])
        rows = chosen_line == index
        slot = np.searchsorted(member_cdf / member_cdf[-1], pick[rows], side="right")
        product[rows] = members[np.minimum(slot, len(members) - 1)]
    quantity = np.where(rng.random(len(line_order)) < 0.95, rng.integers(20, 51, len(line_order)),
                        rng.integers(51, 100, len(line_order)))
    discount = rng.uniform(0.82, 1.0, len(line_order))

    # One line per (order, product), numbered in the order drawn; rows sorted by the primary key.
    key = line_order * len(catalogue.line) + product
    _, first = np.unique(key, return_index=True)
    drawn = np.sort(first)
    drawn_order = line_order[drawn]
    number_in_order = np.arange(len(drawn)) - np.searchsorted(drawn_order, drawn_order) + 1
    line_number = number_in_order[np.searchsorted(drawn, first)]
    kept_order, kept_product = line_order[first], product[first]
    price = _round_cents(catalogue.msrp_cents[kept_product] / 100 * discount[first])
    kept_quantity = quantity[first]
    codes = catalogue.table.column("productCode")

    orders = pa.table(
        {
            "orderNumber": _int(order_number),
            "orderDate": _date(order_date),
            "requiredDate": _date(required_date),
            "shippedDate": _date(shipped_date, mask=shipped_null),
            "status": _text(status_text),
            "comments": _text(comment, mask=comment_null),
            "customerNumber": _int(clientele.number[customer]),
        }
    )
    orderdetails = pa.table(
        {
            "orderNumber": _int(order_number[kept_order]),
            "productCode": codes.take(pa.array(kept_product)),
            "quantityOrdered": _int(kept_quantity),
            "priceEach": _decimal(price),
            "orderLineNumber": _int(line_number, small=True),
        }
    )

    # Payments: most shipped orders are paid by cheque within a month of shipping.
    prng = _rng("payments")
    total = np.bincount(kept_order, weights=kept_quantity * price, minlength=n_orders)
    total = np.rint(total).astype(np.int64)
    paid = ~shipped_null & (status_text != "Cancelled") & (prng.random(n_orders) < 0.9)
    pay_date = np.minimum(shipped_date + prng.integers(0, 31, n_orders), np.datetime64(as_of, "D"))
    check = _fill_templates(["@@######"], np.zeros(n_orders, dtype=np.int64), prng)
    paid_rows = np.flatnonzero(paid)
    pay_customer = clientele.number[customer[paid_rows]]
    pay_check = check[paid_rows]
    by_key = np.lexsort((pay_check, pay_customer))
    pay_customer, pay_check, paid_rows = pay_customer[by_key], pay_check[by_key], paid_rows[by_key]
    distinct = np.ones(len(paid_rows), dtype=bool)
    distinct[1:] = (pay_customer[1:] != pay_customer[:-1]) | (pay_check[1:] != pay_check[:-1])
    payments = pa.table(
        {
            "customerNumber": _int(pay_customer[distinct]),
            "checkNumber": _text(pay_check[distinct]),
            "paymentDate": _date(pay_date[paid_rows[distinct]]),
            "amount": _decimal(total[paid_rows[distinct]]),
        }
    )

    # Ratings: one per purchased (customer, product) pair, from taste, biases and noise.
    rrng = _rng("ratings")
    n_products = len(catalogue.line)
    pairs = np.unique(customer[kept_order] * n_products + kept_product)
    rated_customer, rated_product = pairs // n_products, pairs % n_products
    affinity = np.einsum(
        "ij,ij->i", clientele.factors[rated_customer], catalogue.factors[rated_product]
    )
    score = (clientele.bias[rated_customer] + catalogue.bias[rated_product] + TASTE_WEIGHT * affinity
             + rrng.normal(0.0, 0.45, len(pairs)))
    rating = 1 + np.searchsorted(RATING_CUTS, score)
    ratings = pa.table(
        {
            "customerNumber": _int(clientele.number[rated_customer]),
            "productCode": codes.take(pa.array(rated_product)),
            "productRating": _int(rating),
        }
    )
    return {"orders": orders, "orderdetails": orderdetails, "payments": payments, "ratings": ratings}


def _order_timestamps(orders: pa.Table, customers: pa.Table, as_of: date, now: datetime) -> pa.Array:
    """When each order was placed (UTC, seconds): on its `orderDate`, in its customer's business hours, and
    never after `now` (the orders of `as_of`, when that is today, fall in the part of the day that has passed)."""
    day_start = datetime.combine(as_of, datetime.min.time(), UTC)
    if now < day_start:
        raise ValueError(f"as_of {as_of} is after now ({now:%Y-%m-%d %H:%M}): its orders would be in the future")
    rng = _rng("order_times")
    n = orders.num_rows
    numbers = customers.column("customerNumber").to_numpy()
    country = customers.column("country").to_numpy(zero_copy_only=False)
    ordered_by = np.searchsorted(numbers, orders.column("customerNumber").to_numpy())
    offset = np.array([TERRITORY_UTC_OFFSET_HOURS[COUNTRIES[c][1]] for c in country])[ordered_by]
    first, last = BUSINESS_HOURS
    local = np.where(rng.random(n) < BUSINESS_SHARE, rng.uniform(first * 3600, last * 3600, n),
                     rng.uniform(0, 86_400, n))
    seconds = np.mod(local - offset * 3600, 86_400).astype(np.int64)
    dates = orders.column("orderDate").to_numpy().astype("datetime64[D]")
    elapsed = min((now - day_start).total_seconds(), 86_400.0)
    today = dates == np.datetime64(as_of, "D")
    seconds[today] = (seconds[today] * (elapsed / 86_400)).astype(np.int64)
    stamps = dates.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return pa.array(stamps, type=pa.timestamp("s"))


def generate(
    scale: Scale = "sample", as_of: date | None = None, *, order_timestamps: bool = False,
    now: datetime | None = None,
) -> dict[str, pa.Table]:
    """Make every source table, deterministically: the same arguments give identical tables.

    Pure: no I/O. `as_of` (default: today, UTC) is the last day of the two-year order history.
    Returns one arrow table per source table, keyed by table name, parents before children,
    rows in primary-key order, columns in DDL order. `order_timestamps` adds the announced column
    `orders.orderTimestamp` after `orderDate` (no timestamp after `now`, default: the current time).
    """
    spec = SCALES[scale]
    as_of = as_of or datetime.now(UTC).date()
    line_dirs = _rng("taste").normal(size=(len(LINE_NAMES), TASTE_FACTORS))
    line_dirs /= np.linalg.norm(line_dirs, axis=1, keepdims=True)
    catalogue = _products(spec, line_dirs)
    staff = _employees(spec)
    clientele = _customers(spec, staff, line_dirs)
    tables = {
        "productlines": _productlines(),
        "products": catalogue.table,
        "offices": _offices(),
        "employees": staff.table,
        "customers": clientele.table,
        **_sales(spec, as_of, catalogue, clientele),
    }
    if order_timestamps:
        orders = tables["orders"]
        stamps = _order_timestamps(orders, clientele.table, as_of, now or datetime.now(UTC))
        tables["orders"] = orders.add_column(orders.column_names.index("orderDate") + 1, ORDER_TIMESTAMP, stamps)
    return {name: tables[name] for name in TABLES}


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------

_FORBIDDEN = r"[\t\n\r\\\"]"  # characters that the unquoted TSV files cannot carry


def write_tsv(table: pa.Table, path: Path) -> None:
    """Write `table` as the TSV that `LOAD DATA` reads by default: tab separated, NULL as \\N."""
    columns = []
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_string(column.type) and pc.any(pc.match_substring_regex(column, _FORBIDDEN)).as_py():
            raise ValueError(f"column {name} holds a tab, newline, backslash or double quote")
        if pa.types.is_binary(column.type) and column.null_count != len(column):
            raise ValueError(f"column {name}: only NULL is supported for binary columns")
        columns.append(pc.fill_null(column.cast(pa.string()), "\\N"))
    pacsv.write_csv(
        pa.table(columns, names=table.column_names),
        path,
        pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"),
    )


def schema_statements(*, order_timestamps: bool = False) -> list[str]:
    """The statements of source_schema.sql (then add_order_timestamp.sql, if asked), comments removed."""
    files = (SCHEMA_FILE, ORDER_TIMESTAMP_FILE) if order_timestamps else (SCHEMA_FILE,)
    lines = [line for path in files for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def _connect(host: str, port: int, user: str, password: str) -> MySQLdb.connections.Connection:
    return MySQLdb.connect(host=host, port=port, user=user, password=password, charset="utf8mb4",
                           local_infile=1)


def _enable_local_infile(cursor: MySQLdb.cursors.Cursor) -> None:
    cursor.execute("SELECT @@GLOBAL.local_infile")
    (enabled,) = cursor.fetchone()
    if not enabled:
        try:
            cursor.execute("SET GLOBAL local_infile = 1")
        except MySQLdb.Error as error:
            raise RuntimeError(
                "the server refuses LOAD DATA LOCAL INFILE: start it with --local-infile=1"
            ) from error


def load(
    tables: Mapping[str, pa.Table], *, host: str, port: int, user: str, password: str,
    database: str = "classicmodels",
) -> dict[str, int]:
    """(Re)create the schema in `database` and bulk load `tables` with LOAD DATA LOCAL INFILE.

    Foreign-key and unique checks are off during the load, which runs in one transaction. Raises if the
    server reports a warning (LOCAL turns data errors into warnings) or a row count differs.
    Orders that carry `orderTimestamp` get the announced change (add_order_timestamp.sql) first.
    Returns the row count of every table, counted in the database.
    """
    conn = _connect(host, port, user, password)
    try:
        cursor = conn.cursor()
        _enable_local_infile(cursor)
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (database,))
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.select_db(database)
        with_timestamps = "orders" in tables and ORDER_TIMESTAMP in tables["orders"].column_names
        for statement in schema_statements(order_timestamps=with_timestamps):
            cursor.execute(statement)
        cursor.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
        with tempfile.TemporaryDirectory(prefix="classicmodels-") as tmp:
            for name in TABLES:
                if name not in tables:
                    continue
                path = Path(tmp) / f"{name}.tsv"
                write_tsv(tables[name], path)
                columns = ", ".join(f"`{column}`" for column in tables[name].column_names)
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE `{name}` CHARACTER SET utf8mb4 "
                    rf"FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' ({columns})",
                    (str(path),),
                )
                if conn.warning_count():
                    cursor.execute("SHOW WARNINGS LIMIT 5")
                    raise RuntimeError(f"LOAD DATA into {name} reported warnings: {cursor.fetchall()}")
        conn.commit()
        cursor.execute("SET SESSION foreign_key_checks = 1, unique_checks = 1")
        counts: dict[str, int] = {}
        for name in TABLES:
            cursor.execute(f"SELECT COUNT(*) FROM `{name}`")
            (counts[name],) = cursor.fetchone()
            expected = tables[name].num_rows if name in tables else 0
            if counts[name] != expected:
                raise RuntimeError(f"{name}: loaded {counts[name]} rows, expected {expected}")
        return counts
    finally:
        conn.close()


def seed_source(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    database: str = "classicmodels",
    scale: Scale = "sample",
    as_of: date | None = None,
    order_timestamps: bool = False,
) -> dict[str, int]:
    """Generate the source data at `scale` and load it into `database`, replacing its tables.

    Idempotent: the schema is dropped and created again each time. Returns the row count per table.
    `order_timestamps`: with the announced column `orders.orderTimestamp` (see the module's docstring).
    """
    return load(generate(scale, as_of, order_timestamps=order_timestamps), host=host, port=port, user=user,
                password=password, database=database)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.seed", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_MYSQL_PORT", "3307")),
                        help="default: $LOCAL_MYSQL_PORT or 3307, the local stack's MariaDB")
    parser.add_argument("--user", default=os.environ.get("LOCAL_MYSQL_ADMIN_USER", "root"),
                        help="default: $LOCAL_MYSQL_ADMIN_USER or root")
    parser.add_argument("--password-env", default="LOCAL_MYSQL_ADMIN_PASSWORD",
                        help="name of the environment variable that holds the password "
                             "(default LOCAL_MYSQL_ADMIN_PASSWORD)")
    parser.add_argument("--database", default="classicmodels")
    parser.add_argument("--scale", choices=tuple(SCALES), default="sample")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="last day of the order history, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--order-timestamps", action="store_true",
                        help="apply the announced change: orders.orderTimestamp (add_order_timestamp.sql)")
    args = parser.parse_args(argv)
    if args.password_env not in os.environ:
        parser.error(f"environment variable {args.password_env} is not set")
    counts = seed_source(
        host=args.host, port=args.port, user=args.user, password=os.environ[args.password_env],
        database=args.database, scale=args.scale, as_of=args.as_of, order_timestamps=args.order_timestamps,
    )
    print(json.dumps(counts, indent=2))


if __name__ == "__main__":
    main()
