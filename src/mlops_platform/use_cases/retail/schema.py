"""LGSR (dunnhumby "Let's Get Sort-of-Real") transaction format: the retail contract."""

from __future__ import annotations

from mlops_serving import retail_features

from mlops_platform.contracts import ColumnSpec, DataContract

COLUMNS: tuple[str, ...] = (
    "SHOP_WEEK",
    "SHOP_DATE",
    "SHOP_WEEKDAY",
    "SHOP_HOUR",
    "QUANTITY",
    "SPEND",
    "PROD_CODE",
    "PROD_CODE_10",
    "PROD_CODE_20",
    "PROD_CODE_30",
    "PROD_CODE_40",
    "CUST_CODE",
    "CUST_PRICE_SENSITIVITY",
    "CUST_LIFESTAGE",
    "BASKET_ID",
    "BASKET_SIZE",
    "BASKET_PRICE_SENSITIVITY",
    "BASKET_TYPE",
    "BASKET_DOMINANT_MISSION",
    "STORE_CODE",
    "STORE_FORMAT",
    "STORE_REGION",
)

SENSITIVITY = ("LA", "MM", "UM", "XX")
LIFESTAGES = ("YA", "OA", "YF", "OF", "PE", "OT", "XX")
BASKET_SIZES = ("S", "M", "L")
BASKET_TYPES = ("Small Shop", "Top Up", "Full Shop", "XX")
MISSIONS = ("Fresh", "Grocery", "Mixed", "Nonfood", "XX")
STORE_FORMATS = ("LS", "MS", "SS", "XLS")
STORE_REGIONS = tuple(f"{r}0{i}" for r in "ENSW" for i in (1, 2, 3))
# The coarsest product level (there is no D00007 in the real data) and the classes:
# defined once, with the features the till endpoint computes too.
DIVISIONS, CLASSES = retail_features.DIVISIONS, retail_features.CLASSES
# The seeds show LA / MM / UM as High / Medium / Low price sensitivity.
CLASS_LABELS = {
    "LA": "High price sensitivity",
    "MM": "Medium price sensitivity",
    "UM": "Low price sensitivity",
}

# Real-file quirks: renamed columns in one circulating copy, spelling variants.
COLUMN_ALIASES = {"seg_1": "CUST_PRICE_SENSITIVITY", "seg_2": "CUST_LIFESTAGE"}
VALUE_ALIASES = {"BASKET_DOMINANT_MISSION": {"Non Food": "Nonfood"}}

LGSR_CONTRACT = DataContract(
    name="retail_lgsr_transactions",
    description="One line of an LGSR weekly file (transactions_YYYYWW.csv).",
    aliases=COLUMN_ALIASES,
    columns=(
        ColumnSpec(
            "SHOP_WEEK",
            "int",
            min_value=190001,
            max_value=210053,
            description="fiscal week YYYYWW (Mon-Sun)",
        ),
        ColumnSpec(
            "SHOP_DATE",
            "int",
            min_value=19000101,
            max_value=21001231,
            description="YYYYMMDD",
        ),
        ColumnSpec(
            "SHOP_WEEKDAY",
            "int",
            min_value=1,
            max_value=7,
            description="1 = Sunday .. 7 = Saturday",
        ),
        ColumnSpec("SHOP_HOUR", "int", min_value=0, max_value=23),
        ColumnSpec("QUANTITY", "int", min_value=1, max_value=1000),
        ColumnSpec(
            "SPEND",
            "float",
            min_value=0.01,
            max_value=10000.0,
            description="line total in GBP",
        ),
        ColumnSpec("PROD_CODE", "str", pattern=r"^PRD\d{7}$"),
        ColumnSpec("PROD_CODE_10", "str", pattern=r"^CL\d{5}$"),
        ColumnSpec("PROD_CODE_20", "str", pattern=r"^DEP\d{5}$"),
        ColumnSpec("PROD_CODE_30", "str", pattern=r"^G\d{5}$"),
        ColumnSpec("PROD_CODE_40", "str", pattern=r"^D\d{5}$"),
        ColumnSpec(
            "CUST_CODE",
            "str",
            nullable=True,
            pattern=r"^CUST\d{10}$",
            description="blank for shoppers without a loyalty card",
        ),
        ColumnSpec("CUST_PRICE_SENSITIVITY", "str", nullable=True, allowed=SENSITIVITY),
        ColumnSpec("CUST_LIFESTAGE", "str", nullable=True, allowed=LIFESTAGES),
        ColumnSpec(
            "BASKET_ID",
            "str",
            pattern=r"^\d+(?:\.\d+)?(?:[eE][+]?\d+)?$",
            description="15 digits; Excel-saved copies show 9.94E+14",
        ),
        ColumnSpec("BASKET_SIZE", "str", allowed=BASKET_SIZES),
        ColumnSpec(
            "BASKET_PRICE_SENSITIVITY",
            "str",
            allowed=SENSITIVITY,
            description="the label",
        ),
        ColumnSpec("BASKET_TYPE", "str", allowed=BASKET_TYPES),
        ColumnSpec("BASKET_DOMINANT_MISSION", "str", allowed=MISSIONS),
        ColumnSpec("STORE_CODE", "str", pattern=r"^STORE\d{5}$"),
        ColumnSpec("STORE_FORMAT", "str", allowed=STORE_FORMATS),
        ColumnSpec("STORE_REGION", "str", allowed=STORE_REGIONS),
    ),
)
