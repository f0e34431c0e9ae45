"""The deterministic sample business: three years of a Chinese online retailer's sales and master data.

`generate(seed, out_dir)` writes every CSV of the import contract; the same seed gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from lunardate import LunarDate

from kernel.csvsafe import safe_frame

HISTORY_END = date(2026, 8, 30)  # a Sunday: the demo's weekly proposal runs on Monday 2026-08-31
HISTORY_DAYS = 1096  # 2023-08-31 .. 2026-08-30 inclusive
AGREEMENT_YEAR = 2026

FILE_ORDER = (
    "categories",
    "skus",
    "suppliers",
    "supplier_items",
    "rebate_agreements",
    "rebate_tiers",
    "promotions",
    "sales",
    "inventory",
    "open_purchase_orders",
)

# Monday .. Sunday. Shoppers browse more on Sunday evening; companies buy festival gifts on weekdays.
WEEKLY_SHOPPER = (1.03, 0.98, 0.96, 0.95, 0.98, 1.02, 1.08)
WEEKLY_CORPORATE_GIFTS = (1.10, 1.08, 1.05, 1.02, 0.98, 0.90, 0.87)
WEEKLY_WEEKEND_TRIPS = (0.95, 0.93, 0.97, 1.06, 1.12, 1.00, 0.97)


@dataclass(frozen=True, kw_only=True)
class CategorySpec:
    """How one category sells and is sourced in the sample."""

    code: str
    name: str
    prefix: str
    sku_names: tuple[str, ...]
    price_range: tuple[float, float]  # CNY, list price
    peak_units: float  # mean units/day of a median-priced SKU at the seasonal peak
    dispersion: float  # negative-binomial size: smaller is noisier
    return_rate: float
    event_elasticity: float  # how strongly platform events move this category (1 = fully)
    weekly: tuple[float, ...] = WEEKLY_SHOPPER
    margin_range: tuple[float, float] = (0.40, 0.60)
    case_packs: tuple[int, ...] = (1,)
    moq_cases: tuple[int, ...] = (1,)
    season: str = ""
    salvage_rate: str = ""


def _names(models: list[str], variants: list[str]) -> tuple[str, ...]:
    return tuple(f"{model} - {variant}" for model in models for variant in variants)


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        code="down_jackets", name="Down jackets", prefix="DJK",
        sku_names=_names(
            ["Men's Ultralight Packable Down Jacket", "Women's Long Hooded Down Coat",
             "Men's Expedition Down Parka", "Women's Cropped Puffer Jacket",
             "Kids' Hooded Down Jacket", "Men's Down Vest", "Women's Down Vest",
             "Unisex Oversized Puffer", "Men's City Down Blazer", "Women's Belted Down Coat"],
            ["Black", "Navy"],
        ),
        price_range=(399, 1599), peak_units=2.2, dispersion=3.0, return_rate=0.20, event_elasticity=1.1,
        margin_range=(0.42, 0.58), case_packs=(10, 20), moq_cases=(3, 5),
        season="winter", salvage_rate="0.40",
    ),
    CategorySpec(
        code="swimwear", name="Swimwear", prefix="SWM",
        sku_names=_names(
            ["Women's One-Piece Swimsuit", "Women's Bikini Set", "Men's Swim Shorts",
             "Kids' Rash Guard Set", "Women's Cover-Up Dress"],
            ["Ocean Blue", "Coral", "Black", "Floral"],
        ),
        price_range=(89, 299), peak_units=4.0, dispersion=3.0, return_rate=0.24, event_elasticity=1.0,
        margin_range=(0.48, 0.62), case_packs=(24, 48), moq_cases=(2,),
        season="summer", salvage_rate="0.30",
    ),
    CategorySpec(
        code="camping_gear", name="Camping gear", prefix="CMP",
        sku_names=(
            "Pop-Up Beach Tent 2P", "Glamping Canopy 3x3m", "Family Dome Tent 4P", "Ultralight Tent 1P",
            "Folding Moon Chair", "Aluminium Roll Table", "Camping Trolley Wagon", "Sleeping Bag 5°C",
            "Sleeping Bag -5°C", "Self-Inflating Mat", "Portable Gas Stove", "Titanium Cook Set",
            "LED Camping Lantern", "Cooler Box 35L", "Hammock with Stand", "Trekking Poles Pair",
            "Camping Kettle 1.2L", "Outdoor Picnic Blanket", "Tarp Shelter 4x6m",
            "Family Tunnel Tent 6P"),
        price_range=(49, 1899), peak_units=1.6, dispersion=2.5, return_rate=0.06, event_elasticity=1.0,
        weekly=WEEKLY_WEEKEND_TRIPS,
        margin_range=(0.40, 0.56), case_packs=(4, 6, 10), moq_cases=(2, 3),
    ),
    CategorySpec(
        code="mooncakes", name="Mooncakes", prefix="MCK",
        sku_names=(
            "Cantonese Lotus Paste Gift Box", "Double Yolk Lotus Gift Box", "Five Kernel Classic Box",
            "Snow Skin Durian Box", "Snow Skin Mango Box", "Custard Lava Gift Box",
            "Suzhou Flaky Pork Mooncakes", "Yunnan Ham Mooncakes", "Red Bean Paste Family Pack",
            "Black Sesame Mini Box", "Premium Bird's Nest Gift Box", "Corporate Deluxe Hamper",
            "Low-Sugar Matcha Box", "Kids' Cartoon Mooncakes", "Salted Egg Yolk Flaky Box"),
        price_range=(88, 398), peak_units=16.0, dispersion=4.0, return_rate=0.005, event_elasticity=0.4,
        weekly=WEEKLY_CORPORATE_GIFTS,
        margin_range=(0.45, 0.60), case_packs=(12,), moq_cases=(10,),
        season="mid_autumn", salvage_rate="0.10",
    ),
    CategorySpec(
        code="cny_gift_boxes", name="Spring Festival gift boxes", prefix="CNY",
        sku_names=(
            "Nut & Dried Fruit Hamper", "Premium Tea Gift Set", "Cured Meat Gift Box",
            "Seafood Delicacies Box", "Chocolate New Year Box", "Pastry Assortment Box",
            "Fortune Candy Box", "Wine & Snacks Hamper", "Sichuan Sausage Box", "Abalone Gift Box",
            "Imported Fruit Box", "Corporate Deluxe Hamper", "Healthy Grains Box",
            "Honey & Jujube Box", "Year of the Horse Collector Box"),
        price_range=(168, 888), peak_units=9.0, dispersion=4.0, return_rate=0.005, event_elasticity=0.5,
        weekly=WEEKLY_CORPORATE_GIFTS,
        margin_range=(0.42, 0.58), case_packs=(8,), moq_cases=(10,),
        season="spring_festival", salvage_rate="0.20",
    ),
    CategorySpec(
        code="coffee_machines", name="Coffee machines", prefix="CMC",
        sku_names=(
            "Espresso Machine Classic", "Espresso Machine Pro Dual Boiler", "Bean-to-Cup Automatic",
            "Bean-to-Cup Automatic Plus", "Capsule Machine Mini", "Capsule Machine Milk",
            "Drip Coffee Maker 1.5L", "Semi-Auto Espresso Home", "Lever Espresso Heritage",
            "Cold Brew Maker Electric", "Espresso Machine Compact (2023)", "Espresso Machine Compact (2025)"),
        price_range=(899, 6999), peak_units=0.5, dispersion=2.0, return_rate=0.05, event_elasticity=1.4,
        margin_range=(0.34, 0.44), case_packs=(1, 2), moq_cases=(5, 10),
    ),
    CategorySpec(
        code="coffee_beans", name="Coffee beans", prefix="CBN",
        sku_names=(
            "Yunnan Catimor Medium Roast 500g", "Yunnan Honey Process 500g", "Ethiopia Yirgacheffe 250g",
            "Colombia Supremo 500g", "Brazil Santos 1kg", "House Espresso Blend 1kg",
            "Decaf Swiss Water 500g", "Kenya AA 250g", "Guatemala Antigua 500g",
            "Sumatra Mandheling 500g", "Dark Roast Italian 1kg", "Single Estate Pu'er 250g",
            "Costa Rica Tarrazu 250g", "Espresso Crema Blend 500g", "Cold Brew Coarse Grind 500g",
            "Panama Geisha 100g", "Breakfast Blend 500g", "Summer Fruit Blend 250g"),
        price_range=(49, 199), peak_units=1.0, dispersion=6.0, return_rate=0.01, event_elasticity=0.8,
        margin_range=(0.45, 0.60), case_packs=(24,), moq_cases=(1,),
    ),
    CategorySpec(
        code="spare_parts", name="Spare parts", prefix="SPP",
        sku_names=(
            "Group Head Gasket", "Portafilter 58mm", "Water Filter Cartridge",
            "Steam Wand Tip",
            "Shower Screen", "Drip Tray", "Brew Unit Assembly", "Grinder Burr Set",
            "Milk Frother Nozzle", "Descaling Kit", "Pressure Gauge", "Pump Module 15 bar",
            "Tent Pole Section", "Tent Repair Kit", "Stove Burner Head", "Lantern Glass Shade",
            "Chair Replacement Fabric", "Wagon Wheel Pair", "Cooler Hinge Set", "Mat Valve Kit",
            "Kettle Lid", "Knife Sharpening Stone", "Pan Handle", "Lid Knob Set", "Blender Jar Seal"),
        price_range=(19, 399), peak_units=0.0, dispersion=1.0, return_rate=0.03, event_elasticity=0.3,
        margin_range=(0.55, 0.70), case_packs=(1,), moq_cases=(1,),
    ),
    CategorySpec(
        code="home_textiles", name="Home textiles", prefix="HTX",
        sku_names=(
            "Goose Down Duvet Winter", "Goose Down Duvet All-Season", "Down Pillow Pair",
            "Duck Down Duvet Light", "Silk Duvet 1.5kg", "Cotton Sateen Bedding Set",
            "Linen Bedding Set", "Waffle Bath Towel Set", "Fleece Throw Blanket", "Weighted Blanket 7kg",
            "Memory Foam Pillow", "Blackout Curtains Pair", "Cotton Bath Robe", "Electric Heated Throw",
            "Cooling Summer Mat Set"),
        price_range=(99, 1599), peak_units=2.0, dispersion=3.0, return_rate=0.08, event_elasticity=1.0,
        margin_range=(0.42, 0.58), case_packs=(4, 10), moq_cases=(2, 3),
    ),
    CategorySpec(
        code="kitchenware", name="Kitchenware", prefix="KIT",
        sku_names=(
            "Cast Iron Skillet 26cm", "Non-Stick Wok 32cm", "Chef Knife 20cm",
            "Knife Block Set",
            "Stainless Pot Set 3pc", "Rice Cooker Inner Pot", "Ceramic Dinner Set 16pc",
            "Glass Food Containers 10pc", "Electric Kettle 1.7L", "Air Fryer Liners 100pc",
            "Bamboo Cutting Board", "Thermal Lunch Box"),
        price_range=(29, 399), peak_units=3.0, dispersion=4.0, return_rate=0.04, event_elasticity=1.0,
        margin_range=(0.40, 0.58), case_packs=(12, 24), moq_cases=(2,),
    ),
)


@dataclass(frozen=True)
class SupplierSpec:
    code: str
    name: str
    min_order_value: str
    export_format: str
    contact_email: str


SUPPLIERS: tuple[SupplierSpec, ...] = (
    SupplierSpec("SUP-A", "Hangzhou Beifeng Down Apparel Co., Ltd.", "50000.00", "csv",
                 "orders@beifeng-down.example.com"),
    SupplierSpec("SUP-B", "Xiamen Haitang Swimwear Co., Ltd.", "10000.00", "xlsx",
                 "sales@haitang-swim.example.com"),
    SupplierSpec("SUP-C", "Milano Espresso Macchine S.r.l.", "150000.00", "edifact",
                 "export@milano-espresso.example.com"),
    SupplierSpec("SUP-D", "Guangzhou Yuexiang Food Factory", "20000.00", "csv",
                 "orders@yuexiang-food.example.com"),
    SupplierSpec("SUP-E", "Kunming Highland Coffee Roasters", "3000.00", "csv",
                 "roastery@highland-coffee.example.com"),
    SupplierSpec("SUP-F", "Shanghai Harbour Coffee Trading Co., Ltd.", "30000.00", "xlsx",
                 "trade@harbour-coffee.example.com"),
    SupplierSpec("SUP-G", "Ningbo Trailhead Outdoor Products Co., Ltd.", "20000.00", "xlsx",
                 "b2b@trailhead-outdoor.example.com"),
    SupplierSpec("SUP-H", "Nantong Jiahe Home Goods Co., Ltd.", "8000.00", "csv",
                 "orders@jiahe-home.example.com"),
    SupplierSpec("SUP-I", "Dongguan Precision Parts Co., Ltd.", "0.00", "csv",
                 "parts@dg-precision.example.com"),
    SupplierSpec("SUP-J", "Qingdao Northwind Garments Co., Ltd.", "20000.00", "xlsx",
                 "orders@northwind-garments.example.com"),
)

# Who makes what: (primary supplier, lead time days). Down duvets come from the down-jacket maker,
# which is why its rebate agreement counts them too.
PRIMARY_SUPPLIER: dict[str, tuple[str, int]] = {
    "down_jackets": ("SUP-A", 30),
    "swimwear": ("SUP-B", 21),
    "camping_gear": ("SUP-G", 14),
    "mooncakes": ("SUP-D", 10),
    "cny_gift_boxes": ("SUP-D", 14),
    "coffee_machines": ("SUP-C", 60),
    "coffee_beans": ("SUP-E", 7),
    "spare_parts": ("SUP-I", 20),
    "home_textiles": ("SUP-H", 12),
    "kitchenware": ("SUP-H", 12),
}
DOWN_TEXTILES = ("HTX-001", "HTX-002", "HTX-003", "HTX-004")

# Story SKUs (codes are stable: SKUs are numbered in the order of each category's names).
BELOW_FLOOR_UNLESS_TIER_2 = ("DJK-003", "DJK-007", "DJK-011")  # 28 % at list, 30.5 % at tier 2
ALWAYS_BELOW_FLOOR = {"DJK-015": 0.22, "CMC-004": 0.25, "KIT-009": 0.24}  # list margin
SECOND_JACKET_SUPPLIER = ("DJK-001", "DJK-002", "DJK-005")
SECOND_BEAN_SUPPLIER = ("CBN-001", "CBN-002", "CBN-003", "CBN-004", "CBN-005", "CBN-006")
COFFEE_PARTS = tuple(f"SPP-{i:03d}" for i in range(1, 13))
CAMPING_PARTS = tuple(f"SPP-{i:03d}" for i in range(13, 21))
SECOND_PARTS_SUPPLIER = COFFEE_PARTS[:6]
SECOND_TEXTILE_SUPPLIER = ("HTX-001", "HTX-002", "HTX-003")
NEW_SKUS = {
    "DJK-019": date(2026, 8, 3),
    "DJK-020": date(2026, 8, 10),
    "CMP-020": date(2026, 6, 5),
    "CBN-018": date(2026, 7, 1),
    "MCK-015": date(2026, 7, 20),
}
MID_HISTORY_LAUNCHES = {
    "CMP-015": date(2024, 3, 15),
    "CMP-016": date(2024, 9, 1),
    "CMP-017": date(2025, 3, 20),
    "CMP-018": date(2025, 4, 10),
    "CMP-019": date(2025, 9, 5),
    "CMC-012": date(2025, 11, 1),
}
DISCONTINUED = {"CMC-011": date(2025, 12, 31), "SWM-020": date(2025, 9, 30)}
ONGOING_STOCKOUTS = {"KIT-001": 6, "CMP-003": 4}  # SKU: days out of stock at the end of history
BRUSHED_SKUS = ("SWM-007", "CMP-012", "KIT-011", "HTX-009", "CBN-016", "DJK-019")
JACKET_PREBUILD_GAP_CNY = 700_000  # second pre-build wave still to order on 2026-08-31, at list cost


@dataclass
class SampleBusiness:
    """Every table of the sample as a data frame with its CSV columns, already formatted, and the
    generated SKU plans behind them (each SKU's expected demand per day: the truth a bench can
    measure a forecast's distance from; never written to the files)."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    plans: list[SkuPlan] = field(default_factory=list)


# ---------------------------------------------------------------- calendar


def history_dates(end: date = HISTORY_END, days: int = HISTORY_DAYS) -> pd.DatetimeIndex:
    """The daily business dates of the sales history, oldest first (inclusive of `end`)."""
    return pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")


def mid_autumn_date(year: int) -> date:
    """The Mid-Autumn festival (15th day of the 8th lunar month) of a Gregorian year."""
    return LunarDate(year, 8, 15).to_solar_date()


def spring_festival_date(year: int) -> date:
    """Chinese New Year's day (1st day of the 1st lunar month) of a Gregorian year."""
    return LunarDate(year, 1, 1).to_solar_date()


def _years(dates: pd.DatetimeIndex) -> range:
    return range(dates[0].year - 1, dates[-1].year + 2)


def _scale_days(mult: np.ndarray, dates: pd.DatetimeIndex, first: date, last: date, factor: float) -> None:
    mask = (dates >= pd.Timestamp(first)) & (dates <= pd.Timestamp(last))
    mult[mask] *= factor


def platform_event_multiplier(dates: pd.DatetimeIndex) -> np.ndarray:
    """Demand multiplier of the platform calendar: 618, Double 11, Double 12, member day, Spring Festival.

    Each event has a pre-event dip (shoppers wait for it), a build-up or pre-sale, the day itself
    and a post-event hangover. Around Spring Festival couriers stop, so every category slows.
    """
    mult = np.ones(len(dates))
    day = dates.day.to_numpy()
    month = dates.month.to_numpy()
    member_day = (day == 18) & (month != 6)
    mult[member_day] *= 1.25
    mult[(day == 17) & (month != 6)] *= 0.95
    for year in _years(dates):
        # 618: the platform's build-up runs from 1 June
        _scale_days(mult, dates, date(year, 5, 20), date(year, 5, 31), 0.88)
        _scale_days(mult, dates, date(year, 6, 1), date(year, 6, 15), 1.15)
        _scale_days(mult, dates, date(year, 6, 16), date(year, 6, 17), 1.6)
        _scale_days(mult, dates, date(year, 6, 18), date(year, 6, 18), 2.6)
        _scale_days(mult, dates, date(year, 6, 19), date(year, 6, 26), 0.78)
        # Double 11: pre-sale from late October
        _scale_days(mult, dates, date(year, 10, 14), date(year, 10, 23), 0.85)
        _scale_days(mult, dates, date(year, 10, 24), date(year, 11, 9), 1.2)
        _scale_days(mult, dates, date(year, 11, 10), date(year, 11, 10), 1.7)
        _scale_days(mult, dates, date(year, 11, 11), date(year, 11, 11), 4.0)
        _scale_days(mult, dates, date(year, 11, 12), date(year, 11, 12), 1.3)
        _scale_days(mult, dates, date(year, 11, 13), date(year, 11, 21), 0.75)
        # Double 12
        _scale_days(mult, dates, date(year, 12, 5), date(year, 12, 9), 0.92)
        _scale_days(mult, dates, date(year, 12, 10), date(year, 12, 11), 1.25)
        _scale_days(mult, dates, date(year, 12, 12), date(year, 12, 12), 1.9)
        _scale_days(mult, dates, date(year, 12, 13), date(year, 12, 17), 0.85)
        # Spring Festival logistics: last delivery cut-off, then couriers on holiday
        festival = spring_festival_date(year)
        _scale_days(mult, dates, festival - timedelta(days=14), festival - timedelta(days=10), 0.85)
        _scale_days(mult, dates, festival - timedelta(days=9), festival + timedelta(days=6), 0.45)
    return mult


def platform_price_factor(dates: pd.DatetimeIndex) -> np.ndarray:
    """Share of list price customers pay on each day because of platform coupons (1 = full price)."""
    factor = np.ones(len(dates))
    factor[dates.day.to_numpy() == 18] = 0.95
    for year in _years(dates):
        _scale_days(factor, dates, date(year, 6, 1), date(year, 6, 17), 0.95)
        _scale_days(factor, dates, date(year, 10, 24), date(year, 11, 10), 0.95)
    for month, day, share in ((6, 18, 0.88), (11, 11, 0.85), (12, 12, 0.90)):
        factor[(dates.month.to_numpy() == month) & (dates.day.to_numpy() == day)] = share
    return factor


def _annual_bump(dates: pd.DatetimeIndex, peak_month: int, peak_day: int, width_days: float) -> np.ndarray:
    """A smooth yearly bump, 1 at the peak day, a Gaussian in circular day-of-year distance."""
    peak = date(2001, peak_month, peak_day).timetuple().tm_yday
    distance = np.abs(dates.dayofyear.to_numpy() - peak)
    distance = np.minimum(distance, 365 - distance)
    return np.exp(-0.5 * (distance / width_days) ** 2)


def _lunar_festival_curve(
    dates: pd.DatetimeIndex, festival_of_year: Callable[[int], date], ramp_days: int, cutoff_days: int
) -> np.ndarray:
    """Festival goods: demand ramps up over `ramp_days`, peaks, then collapses at the delivery cut-off."""
    curve = np.full(len(dates), 0.004)
    for year in _years(dates):
        festival = pd.Timestamp(festival_of_year(year))
        days_before = (festival - dates).days.to_numpy()
        ramp = (days_before >= cutoff_days) & (days_before <= ramp_days)
        shape = ((ramp_days - days_before[ramp]) / (ramp_days - cutoff_days)) ** 1.5
        curve[ramp] = np.maximum(curve[ramp], shape)
        last_days = (days_before >= 0) & (days_before < cutoff_days)
        curve[last_days] = np.maximum(curve[last_days], 0.25 + 0.15 * days_before[last_days])
        after = (days_before < 0) & (days_before >= -10)
        curve[after] = np.maximum(curve[after], 0.03)
    return curve


def _growth(dates: pd.DatetimeIndex, yearly_rate: float) -> np.ndarray:
    """Trend multiplier, 1 on the last history day."""
    years_to_end = (dates - dates[-1]).days.to_numpy() / 365.0
    return np.exp(np.log1p(yearly_rate) * years_to_end)


def seasonal_profile(category_code: str, dates: pd.DatetimeIndex) -> np.ndarray:
    """Each category's yearly shape (peak about 1); camping also carries its growth trend."""
    if category_code == "down_jackets":
        return 0.03 + _annual_bump(dates, 12, 10, 32)
    if category_code == "swimwear":
        # a small winter bump: holiday trips to Sanya and South-East Asia
        return 0.06 + _annual_bump(dates, 7, 5, 30) + 0.15 * _annual_bump(dates, 1, 25, 15)
    if category_code == "camping_gear":
        shape = (0.35 + 0.8 * _annual_bump(dates, 5, 1, 25) + 0.7 * _annual_bump(dates, 10, 3, 20)
                 + 0.3 * _annual_bump(dates, 7, 20, 30))
        return shape * _growth(dates, 0.40)
    if category_code == "mooncakes":
        return _lunar_festival_curve(dates, mid_autumn_date, ramp_days=40, cutoff_days=4)
    if category_code == "cny_gift_boxes":
        return _lunar_festival_curve(dates, spring_festival_date, ramp_days=45, cutoff_days=9)
    if category_code == "coffee_machines":
        return (1.0 + 0.15 * _annual_bump(dates, 12, 20, 30)) * _growth(dates, 0.06)
    if category_code == "coffee_beans":
        return 1.0 + 0.12 * _annual_bump(dates, 1, 10, 40)
    if category_code == "home_textiles":
        return 0.6 + 0.6 * _annual_bump(dates, 11, 25, 40)
    return np.ones(len(dates))


# ---------------------------------------------------------------- catalogue


def _shelf_price(raw: float) -> float:
    """Round to a price a shop would show: 899, 1299, 59.9."""
    if raw >= 100:
        return float(round(raw / 10) * 10 - 1)
    return round(round(raw) - 0.1, 1)


@dataclass
class SkuPlan:
    """One SKU's generated attributes and daily arrays (over the full history index)."""

    code: str
    name: str
    category: CategorySpec
    price: float
    launch_date: date
    last_date: date
    status: str
    base_units: float
    mean_units: np.ndarray = field(default_factory=lambda: np.zeros(0))
    units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fraud_units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    returned_units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stockout: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    price_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))


def plan_catalogue(rng: np.random.Generator) -> list[SkuPlan]:
    """The SKUs of every category with price, launch, status and their demand level."""
    plans: list[SkuPlan] = []
    for spec in CATEGORIES:
        names = spec.sku_names
        low, high = spec.price_range
        prices = [_shelf_price(float(np.exp(rng.uniform(np.log(low), np.log(high))))) for _ in names]
        median_price = float(np.median(prices))
        # a few best sellers and a long tail within each category
        popularity = rng.lognormal(0.0, 0.6, size=len(names))
        for index, (name, price) in enumerate(zip(names, prices, strict=True), start=1):
            code = f"{spec.prefix}-{index:03d}"
            launch = NEW_SKUS.get(code) or MID_HISTORY_LAUNCHES.get(code)
            if launch is None:
                launch = date(2019, 3, 1) + timedelta(days=int(rng.integers(0, 1500)))
            cheapness = (median_price / price) ** 0.6
            plans.append(
                SkuPlan(
                    code=code,
                    name=name,
                    category=spec,
                    price=price,
                    launch_date=launch,
                    last_date=DISCONTINUED.get(code, HISTORY_END),
                    status="discontinued" if code in DISCONTINUED else "active",
                    base_units=float(spec.peak_units * popularity[index - 1] * cheapness),
                )
            )
    return plans


# ---------------------------------------------------------------- promotions


@dataclass(frozen=True)
class Promotion:
    code: str
    name: str
    kind: str
    start: date
    end: date
    category_code: str = ""
    sku_code: str = ""
    discount_rate: float | None = None


PROMOTIONS: tuple[Promotion, ...] = (
    Promotion("PR-2023-09-MCK", "Mooncake early-bird pre-sale", "pre_sale",
              date(2023, 9, 1), date(2023, 9, 12), "mooncakes", discount_rate=0.10),
    Promotion("PR-2023-09-CMP", "Golden Week camping: CNY 60 off every 500", "threshold_discount",
              date(2023, 9, 25), date(2023, 10, 5), "camping_gear", discount_rate=0.12),
    Promotion("PR-2023-11-DJK", "Winter warm-up: CNY 100 off every 800", "threshold_discount",
              date(2023, 11, 24), date(2023, 11, 30), "down_jackets", discount_rate=0.125),
    Promotion("PR-2024-01-CNY", "Spring Festival corporate gift pre-sale", "pre_sale",
              date(2024, 1, 2), date(2024, 1, 18), "cny_gift_boxes", discount_rate=0.08),
    Promotion("PR-2024-03-CMC", "Free grinder with the Dual Boiler", "gift",
              date(2024, 3, 8), date(2024, 3, 17), sku_code="CMC-002"),
    Promotion("PR-2024-05-SWM", "Summer launch: CNY 40 off every 300", "threshold_discount",
              date(2024, 5, 10), date(2024, 5, 19), "swimwear", discount_rate=0.13),
    Promotion("PR-2024-07-KIT", "Cast iron flash sale", "flash_sale",
              date(2024, 7, 9), date(2024, 7, 9), sku_code="KIT-001", discount_rate=0.30),
    Promotion("PR-2024-08-MCK", "Mooncake pre-sale", "pre_sale",
              date(2024, 8, 8), date(2024, 8, 25), "mooncakes", discount_rate=0.10),
    Promotion("PR-2024-09-CBN", "Coffee week: CNY 30 off every 199", "threshold_discount",
              date(2024, 9, 23), date(2024, 9, 29), "coffee_beans", discount_rate=0.15),
    Promotion("PR-2024-09-CMP", "Golden Week camping: CNY 60 off every 500", "threshold_discount",
              date(2024, 9, 24), date(2024, 10, 6), "camping_gear", discount_rate=0.12),
    Promotion("PR-2024-12-HTX", "Duvet winter sale", "threshold_discount",
              date(2024, 12, 20), date(2024, 12, 29), "home_textiles", discount_rate=0.15),
    Promotion("PR-2024-12-CNY", "Spring Festival corporate gift pre-sale", "pre_sale",
              date(2024, 12, 26), date(2025, 1, 12), "cny_gift_boxes", discount_rate=0.08),
    Promotion("PR-2025-03-CMC", "Free milk jug with Bean-to-Cup Plus", "gift",
              date(2025, 3, 14), date(2025, 3, 23), sku_code="CMC-004"),
    Promotion("PR-2025-04-CMP", "Spring camping festival: CNY 60 off every 500", "threshold_discount",
              date(2025, 4, 18), date(2025, 4, 30), "camping_gear", discount_rate=0.12),
    Promotion("PR-2025-05-SWM", "Summer launch: CNY 40 off every 300", "threshold_discount",
              date(2025, 5, 16), date(2025, 5, 25), "swimwear", discount_rate=0.13),
    Promotion("PR-2025-08-DJK", "Off-season down jacket clearance", "flash_sale",
              date(2025, 8, 8), date(2025, 8, 10), "down_jackets", discount_rate=0.35),
    Promotion("PR-2025-08-MCK", "Mooncake pre-sale", "pre_sale",
              date(2025, 8, 25), date(2025, 9, 12), "mooncakes", discount_rate=0.10),
    Promotion("PR-2025-09-CMP", "Golden Week camping: CNY 60 off every 500", "threshold_discount",
              date(2025, 9, 26), date(2025, 10, 6), "camping_gear", discount_rate=0.12),
    Promotion("PR-2025-11-KIT", "Knife flash sale", "flash_sale",
              date(2025, 11, 25), date(2025, 11, 25), sku_code="KIT-003", discount_rate=0.30),
    Promotion("PR-2026-01-CNY", "Spring Festival corporate gift pre-sale", "pre_sale",
              date(2026, 1, 3), date(2026, 1, 20), "cny_gift_boxes", discount_rate=0.08),
    Promotion("PR-2026-03-CBN", "Coffee week: CNY 30 off every 199", "threshold_discount",
              date(2026, 3, 20), date(2026, 3, 29), "coffee_beans", discount_rate=0.15),
    Promotion("PR-2026-04-CMP", "Spring camping festival: CNY 60 off every 500", "threshold_discount",
              date(2026, 4, 24), date(2026, 5, 5), "camping_gear", discount_rate=0.12),
    Promotion("PR-2026-05-SWM", "Summer launch: CNY 40 off every 300", "threshold_discount",
              date(2026, 5, 15), date(2026, 5, 24), "swimwear", discount_rate=0.13),
    Promotion("PR-2026-08-MCK", "Mooncake pre-sale", "pre_sale",
              date(2026, 8, 15), date(2026, 9, 10), "mooncakes", discount_rate=0.10),
    Promotion("PR-2026-08-HTX", "Free down pillow with a winter duvet", "gift",
              date(2026, 8, 21), date(2026, 8, 30), sku_code="HTX-001"),
    # planned, after the history ends: the forecast must already see them
    Promotion("PR-2026-09-CBN", "Coffee week: CNY 30 off every 199", "threshold_discount",
              date(2026, 9, 21), date(2026, 9, 27), "coffee_beans", discount_rate=0.15),
    Promotion("PR-2026-09-CMP", "Golden Week camping: CNY 60 off every 500", "threshold_discount",
              date(2026, 9, 25), date(2026, 10, 7), "camping_gear", discount_rate=0.12),
    Promotion("PR-2026-10-DJK", "New-season down jacket pre-sale", "pre_sale",
              date(2026, 10, 20), date(2026, 11, 11), "down_jackets", discount_rate=0.10),
)

# Routine POs still open on 2026-08-30, sized in weeks of recent demand:
# (po_number, supplier, order date, expected date, SKUs, weeks, share already received or None).
ROUTINE_OPEN_ORDERS: tuple[tuple[str, str, date, date, tuple[str, ...], float, float | None], ...] = (
    ("PO-2026-0720-C", "SUP-C", date(2026, 7, 20), date(2026, 9, 18),
     ("CMC-001", "CMC-002", "CMC-003", "CMC-005", "CMC-007", "CMC-012", "SPP-001", "SPP-003", "SPP-006"),
     8, None),
    ("PO-2026-0728-F", "SUP-F", date(2026, 7, 28), date(2026, 9, 11),
     ("CBN-001", "CBN-002", "CBN-005"), 6, None),
    ("PO-2026-0821-G", "SUP-G", date(2026, 8, 21), date(2026, 9, 4),
     ("CMP-001", "CMP-003", "CMP-007", "CMP-020"), 4, None),
    ("PO-2026-0824-D", "SUP-D", date(2026, 8, 24), date(2026, 9, 3),
     ("MCK-001", "MCK-002", "MCK-003", "MCK-004", "MCK-005", "MCK-006", "MCK-007", "MCK-008"), 1.5, None),
    ("PO-2026-0825-H", "SUP-H", date(2026, 8, 25), date(2026, 9, 6), ("KIT-001",), 4, None),
    # overdue and partly delivered: received_units must be kept apart from what is still due
    ("PO-2026-0812-H", "SUP-H", date(2026, 8, 12), date(2026, 8, 24), ("HTX-009",), 4, 0.5),
    ("PO-2026-0812-H", "SUP-H", date(2026, 8, 12), date(2026, 8, 24), ("HTX-010",), 4, 0.0),
)

PROMOTION_LIFT = {"threshold_discount": 1.45, "pre_sale": 1.3, "gift": 1.4, "flash_sale": 3.0}


def promotion_effect(plan: SkuPlan, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(demand multiplier, price factor) of the company's promotions that cover this SKU.

    Shoppers who see a promotion coming hold back a few days (dip) and have bought
    ahead afterwards (hangover); a flash sale's hangover is deeper.
    """
    lift = np.ones(len(dates))
    price = np.ones(len(dates))
    for promo in PROMOTIONS:
        if promo.sku_code != plan.code and promo.category_code != plan.category.code:
            continue
        _scale_days(lift, dates, promo.start - timedelta(days=4), promo.start - timedelta(days=1), 0.9)
        _scale_days(lift, dates, promo.start, promo.end, PROMOTION_LIFT[promo.kind])
        hangover = 0.7 if promo.kind == "flash_sale" else 0.85
        _scale_days(lift, dates, promo.end + timedelta(days=1), promo.end + timedelta(days=5), hangover)
        if promo.discount_rate:
            _scale_days(price, dates, promo.start, promo.end, 1.0 - promo.discount_rate)
    return lift, price


# ---------------------------------------------------------------- demand


def _active_mask(plan: SkuPlan, dates: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray((dates >= pd.Timestamp(plan.launch_date)) & (dates <= pd.Timestamp(plan.last_date)))


def _launch_ramp(plan: SkuPlan, dates: pd.DatetimeIndex) -> np.ndarray:
    """A new SKU needs about three weeks to reach its level (reviews, search ranking)."""
    days_live = (dates - pd.Timestamp(plan.launch_date)).days.to_numpy()
    return np.clip((days_live + 1) / 21.0, 0.0, 1.0) ** 0.7


def _negative_binomial(rng: np.random.Generator, mean: np.ndarray, size: float) -> np.ndarray:
    return rng.negative_binomial(size, size / (size + mean)).astype(np.int64)


def installed_machine_base(machine_units: np.ndarray) -> np.ndarray:
    """Coffee machines in use by our customers each day; about 2 % retire a month.

    The base starts at roughly 18 months of the first quarter's sales (machines sold before the history).
    """
    survival = 0.98 ** (1 / 30)
    base = np.empty(len(machine_units))
    level = float(machine_units[:90].mean()) * 540
    for day, sold in enumerate(machine_units):
        level = level * survival + sold
        base[day] = level
    return base


def generate_demand_for_category(
    rng: np.random.Generator,
    plans: list[SkuPlan],
    dates: pd.DatetimeIndex,
    events: np.ndarray,
    event_prices: np.ndarray,
    installed_base: np.ndarray | None,
) -> None:
    """Fill each plan's mean and sold units (before stockouts and brushing) for one category."""
    spec = plans[0].category
    weekly = np.asarray(spec.weekly)[dates.dayofweek.to_numpy()]
    season = seasonal_profile(spec.code, dates)
    category_events = events ** spec.event_elasticity
    camping_trend = _growth(dates, 0.40)
    total_popularity = sum(plan.base_units for plan in plans)
    for plan in plans:
        lift, promo_price = promotion_effect(plan, dates)
        drift = _growth(dates, float(rng.normal(0.0, 0.08)))
        active = _active_mask(plan, dates)
        ramp = _launch_ramp(plan, dates)
        plan.price_factor = np.minimum(event_prices, promo_price)
        if spec.code == "spare_parts":
            plan.mean_units, plan.units = _intermittent_parts(
                rng, plan, dates, category_events, installed_base, camping_trend
            )
            plan.units[~active] = 0
            continue
        if spec.code == "coffee_beans":
            assert installed_base is not None
            # about half a bag per machine a month is bought from us
            level = 0.018 * installed_base * plan.base_units / total_popularity
        else:
            level = plan.base_units * np.ones(len(dates))
        mean = level * season * weekly * category_events * lift * drift * ramp
        mean[~active] = 0.0
        plan.mean_units = mean
        plan.units = _negative_binomial(rng, mean, spec.dispersion)


def _intermittent_parts(
    rng: np.random.Generator,
    plan: SkuPlan,
    dates: pd.DatetimeIndex,
    events: np.ndarray,
    installed_base: np.ndarray | None,
    camping_trend: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Slow movers: most days zero, occasionally one to a few units (Croston-type demand)."""
    daily_probability = float(np.exp(rng.uniform(np.log(0.015), np.log(0.15))))
    if plan.code in COFFEE_PARTS and installed_base is not None:
        scale = installed_base / installed_base[-1]
    elif plan.code in CAMPING_PARTS:
        scale = camping_trend
    else:
        scale = np.ones(len(dates))
    probability = np.clip(daily_probability * scale * events, 0.0, 0.9)
    occurs = rng.random(len(dates)) < probability
    sizes = rng.geometric(0.65, size=len(dates)).astype(np.int64)
    mean_size = 1 / 0.65
    return probability * mean_size, np.where(occurs, sizes, 0)


def apply_stockouts(rng: np.random.Generator, plan: SkuPlan) -> None:
    """Censor sales on out-of-stock days: a partial first day, then almost nothing, flagged.

    Stockouts strike where demand is high, so episode starts are drawn in proportion to demand.
    """
    plan.stockout = np.zeros(len(plan.units), dtype=bool)
    active_days = np.flatnonzero(plan.mean_units > 0)
    if plan.code in ONGOING_STOCKOUTS:
        length = ONGOING_STOCKOUTS[plan.code]
        _censor(rng, plan, len(plan.units) - length, length)
    if plan.category.code == "spare_parts" or len(active_days) < 60 or rng.random() > 0.4:
        return
    weights = plan.mean_units[active_days] / plan.mean_units[active_days].sum()
    # past episodes end a week before the snapshot, so today's stock agrees with the sales
    last_stop = len(plan.units) - 7
    for _ in range(int(rng.integers(2, 8))):
        start = int(rng.choice(active_days, p=weights))
        length = min(int(rng.integers(3, 19)), last_stop - start)
        if length > 0:
            _censor(rng, plan, start, length)


def _censor(rng: np.random.Generator, plan: SkuPlan, start: int, length: int) -> None:
    stop = min(start + length, len(plan.units))
    plan.stockout[start:stop] = True
    plan.units[start] = rng.binomial(plan.units[start], 0.4)
    plan.units[start + 1:stop] = rng.binomial(plan.units[start + 1:stop], 0.03)


def apply_brushing(rng: np.random.Generator, plan: SkuPlan) -> None:
    """Add fake orders the shop's anti-fraud check flagged: bursts on a few SKUs, rare strays elsewhere."""
    fraud = np.zeros(len(plan.units), dtype=np.int64)
    can_brush = (plan.mean_units > 0) & ~plan.stockout
    strays = can_brush & (rng.random(len(fraud)) < 0.002)
    fraud[strays] = rng.integers(1, 3, size=int(strays.sum()))
    if plan.code in BRUSHED_SKUS:
        candidates = np.flatnonzero(can_brush)
        burst_size = max(6.0, 4.0 * float(plan.mean_units[candidates].mean()))
        for _ in range(int(rng.integers(2, 5))):
            start = int(rng.choice(candidates[: max(1, len(candidates) - 3)]))
            days = slice(start, min(start + int(rng.integers(2, 7)), len(fraud)))
            fraud[days] += rng.poisson(burst_size, size=days.stop - days.start)
        fraud[~can_brush] = 0
    plan.fraud_units = fraud
    plan.units = plan.units + fraud


def apply_returns(rng: np.random.Generator, plan: SkuPlan) -> None:
    """Returns of genuine units arrive 5 days (most) or 12 days (the rest) after the sale."""
    genuine = plan.units - plan.fraud_units
    returned = rng.binomial(genuine, plan.category.return_rate)
    quick = rng.binomial(returned, 0.6)
    late = returned - quick
    arriving = np.zeros(len(genuine), dtype=np.int64)
    arriving[5:] += quick[:-5]
    arriving[12:] += late[:-12]
    plan.returned_units = arriving


# ---------------------------------------------------------------- money and formatting


def _cost(value: float) -> str:
    """A unit cost with 2 decimals, or 4 where the invoice has them (converted from euro)."""
    text = f"{round(value, 4):.4f}"
    return text[:-2] if text.endswith("00") else text


def _price_text(price: float) -> str:
    return f"{price:.2f}"


def _revenue_text(plan: SkuPlan, units: np.ndarray, price_factor: np.ndarray) -> list[str]:
    # whole fen per unit, so revenue is exact and identical on every platform
    unit_fen = np.round(plan.price * 100 * price_factor).astype(np.int64)
    fen = units * unit_fen
    return [f"{value // 100}.{value % 100:02d}" for value in fen.tolist()]


def _iso(days: pd.DatetimeIndex) -> list[str]:
    return list(days.strftime("%Y-%m-%d"))


# ---------------------------------------------------------------- tables


def assign_abc_classes(plans: list[SkuPlan], dates: pd.DatetimeIndex) -> dict[str, str]:
    """ABC by the last 365 days' revenue: top 20 % of SKUs A, next 30 % B, the rest C.

    Discontinued SKUs rank last: they no longer earn the service level of a best seller.
    """
    last_year = slice(len(dates) - 365, len(dates))
    revenue = {
        plan.code: float((plan.units[last_year] * plan.price * plan.price_factor[last_year]).sum())
        if plan.status == "active" else -1.0
        for plan in plans
    }
    ranked = sorted(revenue, key=lambda code: (-revenue[code], code))
    a_count = round(0.2 * len(ranked))
    b_count = round(0.3 * len(ranked))
    return {
        code: "A" if rank < a_count else "B" if rank < a_count + b_count else "C"
        for rank, code in enumerate(ranked)
    }


def sales_table(plans: list[SkuPlan], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily sales per SKU from launch (or history start) to delisting, zero days included."""
    parts = []
    for plan in plans:
        active = _active_mask(plan, dates)
        parts.append(
            pd.DataFrame(
                {
                    "date": np.asarray(_iso(dates[active])),
                    "sku_code": plan.code,
                    "units": plan.units[active],
                    "revenue": _revenue_text(plan, plan.units[active], plan.price_factor[active]),
                    "returned_units": plan.returned_units[active],
                    "fraud_units": plan.fraud_units[active],
                    "stockout": np.where(plan.stockout[active], "true", "false"),
                }
            )
        )
    sales = pd.concat(parts, ignore_index=True)
    return sales.sort_values(["date", "sku_code"], kind="stable").reset_index(drop=True)


def unit_costs(rng: np.random.Generator, plans: list[SkuPlan]) -> dict[str, float]:
    """List unit cost (CNY, from the primary supplier) per SKU, from a target margin."""
    costs = {}
    for plan in plans:
        low, high = plan.category.margin_range
        margin = float(rng.uniform(low, high))
        if plan.code in BELOW_FLOOR_UNLESS_TIER_2:
            margin = 0.28
        margin = ALWAYS_BELOW_FLOOR.get(plan.code, margin)
        cost = plan.price * (1 - margin)
        # imported goods are invoiced in euro and converted: costs keep four decimals
        decimals = 4 if PRIMARY_SUPPLIER[plan.category.code][0] == "SUP-C" else 2
        costs[plan.code] = round(cost, decimals)
    return costs


def supplier_items_table(
    rng: np.random.Generator, plans: list[SkuPlan], costs: dict[str, float]
) -> pd.DataFrame:
    """Who supplies each SKU: unit cost, MOQ, case pack, lead time; some SKUs have two sources."""
    rows = []
    for plan in plans:
        spec = plan.category
        supplier, lead_time = PRIMARY_SUPPLIER[spec.code]
        if plan.code in DOWN_TEXTILES:
            supplier, lead_time = "SUP-A", 30
        case_pack = int(rng.choice(spec.case_packs))
        moq = case_pack * int(rng.choice(spec.moq_cases))
        cost = costs[plan.code]
        rows.append((supplier, plan.code, cost, moq, case_pack, lead_time, plan.status == "active"))
        if plan.code in SECOND_JACKET_SUPPLIER:
            # closer and faster, but dearer and outside the rebate agreement
            rows.append(("SUP-J", plan.code, round(cost * 1.07, 2), case_pack * 2, case_pack, 21, True))
        if plan.code in SECOND_BEAN_SUPPLIER:
            # green-bean importer: cheaper by the pallet, six weeks by sea
            rows.append(("SUP-F", plan.code, round(cost * 0.88, 2), 240, 24, 45, True))
        if plan.code in SECOND_PARTS_SUPPLIER:
            # the machine maker ships original parts with its machines: cheap, but 60 days
            rows.append(("SUP-C", plan.code, round(cost * 0.74, 4), 10, 1, 60, True))
        if plan.code in SECOND_TEXTILE_SUPPLIER:
            rows.append(("SUP-H", plan.code, round(cost * 1.05, 2), moq, case_pack, 12, True))
    frame = pd.DataFrame(
        rows,
        columns=["supplier_code", "sku_code", "unit_cost", "moq", "case_pack", "lead_time_days", "active"],
    )
    frame["unit_cost"] = frame["unit_cost"].map(_cost)
    frame["active"] = np.where(frame["active"], "true", "false")
    return frame.sort_values(["supplier_code", "sku_code"], kind="stable").reset_index(drop=True)


def rebate_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calendar-2026 agreements; SUP-A sits ¥100,000 below its 3.5 % tier (docs/design-notes.md)."""
    start, end, as_of = f"{AGREEMENT_YEAR}-01-01", f"{AGREEMENT_YEAR}-12-31", HISTORY_END.isoformat()
    agreements = pd.DataFrame(
        [
            ("AGR-2026-SUP-A", "SUP-A", start, end, "retroactive", "1900000.00", as_of, "", ""),
            ("AGR-2026-SUP-C", "SUP-C", start, end, "retroactive", "720000.00", as_of, "coffee_machines", ""),
            ("AGR-2026-SUP-D", "SUP-D", start, end, "incremental", "455000.00", as_of,
             "mooncakes;cny_gift_boxes", ""),
        ],
        columns=["agreement_code", "supplier_code", "period_start", "period_end", "kind",
                 "purchases_to_date", "purchases_as_of", "scope_categories", "scope_skus"],
    )
    tiers = pd.DataFrame(
        [
            ("AGR-2026-SUP-A", 1, "1000000.00", "0.02"),
            ("AGR-2026-SUP-A", 2, "2000000.00", "0.035"),
            ("AGR-2026-SUP-C", 1, "500000.00", "0.015"),
            ("AGR-2026-SUP-C", 2, "1200000.00", "0.03"),
            ("AGR-2026-SUP-D", 1, "300000.00", "0.01"),
            ("AGR-2026-SUP-D", 2, "800000.00", "0.02"),
        ],
        columns=["agreement_code", "tier", "threshold", "rate"],
    )
    return agreements, tiers


def _round_to_case(units: float, case_pack: int, moq: int) -> int:
    """Whole cases nearest to `units`, at least the MOQ; nothing when less than half a case is due."""
    cases = round(units / case_pack)
    return max(moq, cases * case_pack) if cases > 0 else 0


def inventory_and_open_orders(
    rng: np.random.Generator,
    plans: list[SkuPlan],
    dates: pd.DatetimeIndex,
    items: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stock on 2026-08-30 for every SKU, and the purchase orders still in transit.

    Down jackets are nearly sold out before the season. The first pre-build wave in transit covers
    last September-February's genuine sales (+5 %) less stock, except about ¥700,000 at list cost
    (roughly 40 % of the season) that the proposal of Monday 31 August, the last one that can
    still place it, has to order.
    """
    primary_supplier = {plan.code: _primary_supplier(plan) for plan in plans}
    is_primary = items.supplier_code == items.sku_code.map(primary_supplier)
    primary = items[is_primary].set_index("sku_code")
    stock_rows, po_lines = [], []
    last_year_window = (dates >= pd.Timestamp("2025-08-31")) & (dates <= pd.Timestamp("2026-02-28"))
    recent = slice(len(dates) - 28, len(dates))
    jacket_need: dict[str, float] = {}
    jacket_popularity: dict[str, float] = {}
    on_hand_of: dict[str, int] = {}
    new_jackets = [p for p in plans if p.code in NEW_SKUS and p.category.code == "down_jackets"]
    for plan in plans:
        genuine = plan.units - plan.fraud_units
        recent_daily = float(plan.mean_units[recent].mean())
        code, spec = plan.code, plan.category.code
        if plan.status == "discontinued" or code in ONGOING_STOCKOUTS:
            on_hand = 0
        elif code in NEW_SKUS and spec == "down_jackets":
            on_hand = int(rng.integers(40, 90))
        elif spec == "down_jackets":
            on_hand = int(rng.integers(0, 12))
            jacket_need[code] = float(genuine[last_year_window].sum()) * 1.05
            jacket_popularity[code] = plan.base_units
        elif spec == "cny_gift_boxes":
            on_hand = int(rng.integers(0, 6))
        elif spec == "mooncakes":
            # pre-built for the festival: about a week of peak-season sales on the shelf
            on_hand = int(plan.base_units * rng.uniform(6, 10))
        elif spec == "swimwear":
            on_hand = int(recent_daily * rng.uniform(60, 120)) + int(rng.integers(5, 30))
        elif spec == "spare_parts":
            on_hand = int(rng.integers(0, 9))
        else:
            on_hand = int(recent_daily * rng.uniform(14, 60))
        committed = min(on_hand, int(rng.poisson(recent_daily * 0.6)))
        stock_rows.append((HISTORY_END.isoformat(), code, on_hand, committed))
        on_hand_of[code] = on_hand
        if spec == "down_jackets" and code in jacket_need:
            jacket_need[code] = max(0.0, jacket_need[code] - on_hand)

    def add_line(po: str, supplier: str, code: str, units: int, ordered: date, expected: date,
                 received: int | str = "") -> None:
        item = items[(items.supplier_code == supplier) & (items.sku_code == code)].iloc[0]
        po_lines.append((po, supplier, code, units, item.unit_cost, ordered.isoformat(),
                         expected.isoformat(), received))

    # New styles have no last winter: size their first order like established SKUs of equal appeal.
    units_per_popularity = sum(jacket_need.values()) / sum(jacket_popularity.values())
    for plan in new_jackets:
        jacket_need[plan.code] = max(0.0, plan.base_units * units_per_popularity - on_hand_of[plan.code])
    # Down-jacket pre-build in two waves. The buyer fully covered the new styles and most of the
    # price-fighter below the margin floor; the other SKUs are short by JACKET_PREBUILD_GAP_CNY.
    covered = {plan.code: 1.0 for plan in new_jackets} | {code: 0.85 for code in ALWAYS_BELOW_FLOOR}
    prebuild = size_jacket_prebuild(
        jacket_need,
        {code: float(primary.loc[code, "unit_cost"]) for code in jacket_need},
        {code: int(primary.loc[code, "case_pack"]) for code in jacket_need},
        {code: int(primary.loc[code, "moq"]) for code in jacket_need},
        covered,
    )
    for code in sorted(prebuild):
        case_pack, moq = int(primary.loc[code, "case_pack"]), int(primary.loc[code, "moq"])
        first = _round_to_case(prebuild[code] * 0.6, case_pack, moq)
        if prebuild[code] - first < moq:
            first = prebuild[code]
        if first:
            add_line("PO-2026-0803-A", "SUP-A", code, first, date(2026, 8, 3), date(2026, 9, 2))
        if prebuild[code] > first:
            add_line("PO-2026-0817-A", "SUP-A", code, prebuild[code] - first, date(2026, 8, 17),
                     date(2026, 9, 16))
    for code in DOWN_TEXTILES[:2]:
        add_line("PO-2026-0817-A", "SUP-A", code, 60, date(2026, 8, 17), date(2026, 9, 16))
    plan_of = {plan.code: plan for plan in plans}
    for po_number, supplier, ordered, expected, codes, weeks, received_share in ROUTINE_OPEN_ORDERS:
        for code in codes:
            item = items[(items.supplier_code == supplier) & (items.sku_code == code)].iloc[0]
            weekly_units = float(plan_of[code].mean_units[recent].mean()) * 7
            case_pack, moq = int(item.case_pack), int(item.moq)
            units = max(moq, _round_to_case(weekly_units * weeks, case_pack, moq))
            received: int | str = "" if received_share is None else int(units * received_share)
            add_line(po_number, supplier, code, units, ordered, expected, received)
    stock = pd.DataFrame(stock_rows, columns=["date", "sku_code", "on_hand", "committed"])
    orders = pd.DataFrame(
        po_lines,
        columns=["po_number", "supplier_code", "sku_code", "units", "unit_cost", "order_date",
                 "expected_date", "received_units"],
    )
    return (
        stock.sort_values(["sku_code", "date"], kind="stable").reset_index(drop=True),
        orders.sort_values(["po_number", "sku_code"], kind="stable").reset_index(drop=True),
    )


def size_jacket_prebuild(
    net_need: dict[str, float],
    unit_cost: dict[str, float],
    case_pack: dict[str, int],
    moq: dict[str, int],
    covered_share: dict[str, float],
    gap_cny: float = JACKET_PREBUILD_GAP_CNY,
) -> dict[str, int]:
    """Units already ordered per jacket SKU so that the uncovered need is about `gap_cny` at list cost.

    SKUs in `covered_share` are covered by that share; the others share the gap, in whole cases
    and at least the MOQ, nudged case by case until the gap is as close to `gap_cny` as cases allow.
    """
    open_codes = sorted(code for code in net_need if code not in covered_share)
    open_need_cny = sum(net_need[code] * unit_cost[code] for code in open_codes)
    share = max(0.0, 1.0 - gap_cny / open_need_cny) if open_need_cny else 0.0
    ordered = {
        code: _round_to_case(net_need[code] * covered_share.get(code, share), case_pack[code], moq[code])
        for code in sorted(net_need)
    }

    def gap(units: dict[str, int]) -> float:
        return sum((net_need[code] - units[code]) * unit_cost[code] for code in open_codes)

    for _ in range(100):
        best, best_distance = None, abs(gap(ordered) - gap_cny)
        for code in open_codes:
            for step in (case_pack[code], -case_pack[code]):
                trial = ordered[code] + step
                if trial < moq[code]:
                    continue
                distance = abs(gap(ordered | {code: trial}) - gap_cny)
                if distance < best_distance - 1e-9:
                    best, best_distance = (code, trial), distance
        if best is None:
            break
        ordered[best[0]] = best[1]
    return ordered


def _primary_supplier(plan: SkuPlan) -> str:
    return "SUP-A" if plan.code in DOWN_TEXTILES else PRIMARY_SUPPLIER[plan.category.code][0]


def build_sample_business(seed: int) -> SampleBusiness:
    """Every table of the sample business, formatted for CSV, from one random seed."""
    rng = np.random.default_rng(seed)
    dates = history_dates()
    plans = plan_catalogue(rng)
    events = platform_event_multiplier(dates)
    event_prices = platform_price_factor(dates)
    by_category: dict[str, list[SkuPlan]] = {}
    for plan in plans:
        by_category.setdefault(plan.category.code, []).append(plan)
    # machines first: bean and part demand follows the installed base of machines sold
    machine_plans = by_category["coffee_machines"]
    generate_demand_for_category(rng, machine_plans, dates, events, event_prices, None)
    machine_units = np.sum([plan.units for plan in machine_plans], axis=0)
    installed_base = installed_machine_base(machine_units)
    for spec in CATEGORIES:
        if spec.code != "coffee_machines":
            generate_demand_for_category(
                rng, by_category[spec.code], dates, events, event_prices, installed_base
            )
    for plan in plans:
        apply_stockouts(rng, plan)
        apply_brushing(rng, plan)
        apply_returns(rng, plan)

    abc = assign_abc_classes(plans, dates)
    categories = pd.DataFrame(
        [(s.code, s.name, s.season, "", s.salvage_rate) for s in CATEGORIES],
        columns=["category_code", "name", "season", "prebuild_days", "salvage_rate"],
    )
    skus = pd.DataFrame(
        [(p.code, p.name, p.category.code, _price_text(p.price), abc[p.code], p.status,
          p.launch_date.isoformat()) for p in plans],
        columns=["sku_code", "name", "category_code", "price", "abc_class", "status", "launch_date"],
    )
    suppliers = pd.DataFrame(
        [(s.code, s.name, s.min_order_value, s.export_format, s.contact_email) for s in SUPPLIERS],
        columns=["supplier_code", "name", "min_order_value", "export_format", "contact_email"],
    )
    costs = unit_costs(rng, plans)
    items = supplier_items_table(rng, plans, costs)
    agreements, tiers = rebate_tables()
    known_skus = {plan.code for plan in plans}
    promotions = pd.DataFrame(
        [(p.code, p.name, p.kind, p.start.isoformat(), p.end.isoformat(), p.category_code, p.sku_code,
          "" if p.discount_rate is None else f"{p.discount_rate:g}")
         for p in PROMOTIONS if not p.sku_code or p.sku_code in known_skus],
        columns=["promotion_code", "name", "kind", "start_date", "end_date", "category_code", "sku_code",
                 "discount_rate"],
    )
    stock, orders = inventory_and_open_orders(rng, plans, dates, items)
    business = SampleBusiness(plans=plans)
    business.frames = {
        "categories": categories,
        "skus": skus,
        "suppliers": suppliers,
        "supplier_items": items,
        "rebate_agreements": agreements,
        "rebate_tiers": tiers,
        "promotions": promotions,
        "sales": sales_table(plans, dates),
        "inventory": stock,
        "open_purchase_orders": orders,
    }
    return business


def write_sample_business(business: SampleBusiness, out_dir: Path) -> dict[str, int]:
    """Write one CSV per table into `out_dir` (UTF-8, '\\n' line ends); return rows per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in FILE_ORDER:
        frame = business.frames[name]
        safe_frame(frame).to_csv(
            out_dir / f"{name}.csv", index=False, lineterminator="\n", encoding="utf-8"
        )
        rows[f"{name}.csv"] = len(frame)
    return rows


ORDERS_FILE = Path("orders") / "orders.csv"


def sample_file_names() -> tuple[str, ...]:
    """The CSV files `generate` writes into its directory (relative paths)."""
    return tuple(f"{name}.csv" for name in FILE_ORDER) + (ORDERS_FILE.as_posix(),)


def generate(seed: int, out_dir: Path) -> dict[str, int]:
    """Generate the sample business for `seed` into `out_dir`; return the number of rows per CSV file.

    The order-level file of a few categories (`restock.sample_orders`) goes to `orders/orders.csv`,
    apart from the files `restock import DIR` reads; `restock orders import` reads it.
    """
    from restock.sample_orders import build_sample_orders, write_sample_orders

    business = build_sample_business(seed)
    rows = write_sample_business(business, Path(out_dir))
    orders = build_sample_orders(business.frames["sales"], seed)
    rows[ORDERS_FILE.as_posix()] = write_sample_orders(orders, Path(out_dir) / ORDERS_FILE)
    return rows
