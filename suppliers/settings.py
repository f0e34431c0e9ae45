"""What supplier files read from the configuration: `[export]` (outbox, CSV look, EDIFACT sender).

The shell validates the file and turns these into the `ExportStyle` each export asks for.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SupplierFileSettings(BaseModel):
    """How one supplier's CSV looks: columns in order, their header labels, the encoding."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    encoding: Literal["utf-8-sig", "gb18030"] | None = None
    delimiter: Literal[",", ";", "\t"] | None = None


class ExportSettings(BaseModel):
    """`[export]`: the outbox, CSV defaults and per-supplier overrides, the EDIFACT sender."""

    model_config = ConfigDict(extra="forbid")

    outbox: str = "var/outbox"
    csv_columns: list[str] = Field(
        default_factory=lambda: [
            "po_number",
            "line_no",
            "sku",
            "supplier_item_code",
            "product_name",
            "units",
            "cases",
            "case_pack",
            "unit_cost",
            "line_value",
            "delivery_date",
        ]
    )
    csv_labels: dict[str, str] = Field(default_factory=dict)
    csv_encoding: Literal["utf-8-sig", "gb18030"] = "utf-8-sig"
    csv_delimiter: Literal[",", ";", "\t"] = ","
    suppliers: dict[str, SupplierFileSettings] = Field(default_factory=dict)
    edifact_sender: str = "RESTOCK"
    edifact_buyer_name: str = "restock buyer"
