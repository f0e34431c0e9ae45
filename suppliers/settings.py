"""What supplier files read from the configuration: `[export]` (outbox, CSV look, EDIFACT sender).

The shell validates the file; `ExportSettings.style` turns it into the `ExportStyle` each export
asks for (the CLI, the scheduler and the web app all call it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from suppliers.export import ExportStyle


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

    def style(self, supplier_code: str) -> ExportStyle:
        """The CSV/XLSX look of one supplier's files: these defaults, overridden per supplier."""
        from suppliers.export import ExportStyle

        own = self.suppliers.get(supplier_code)
        labels = dict(self.csv_labels)
        if own is not None:
            labels.update(own.labels)
        return ExportStyle(
            columns=tuple((own.columns if own is not None and own.columns else None) or self.csv_columns),
            labels=labels,
            encoding=(own.encoding if own is not None and own.encoding else None) or self.csv_encoding,
            delimiter=(own.delimiter if own is not None and own.delimiter else None) or self.csv_delimiter,
            edifact_sender=self.edifact_sender,
        )
