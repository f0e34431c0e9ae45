"""Importing CSV files (master data, sales, inventory, open POs): validated, all or nothing."""

from restock.importing.schema import FILE_SCHEMAS, IMPORT_ORDER, FileSchema
from restock.importing.service import FileReport, ImportProgress, ImportReport, import_path

__all__ = [
    "FILE_SCHEMAS",
    "IMPORT_ORDER",
    "FileReport",
    "FileSchema",
    "ImportProgress",
    "ImportReport",
    "import_path",
]
