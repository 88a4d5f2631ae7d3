"""Ingest: every record enters the product here (files now; drop folders and URLs build on it)."""

from tracker.ingest.catalogue import CatalogueResult, import_procedures, import_units
from tracker.ingest.loader import import_file
from tracker.ingest.readers import FileRejected
from tracker.ingest.rows import Rejection
from tracker.ingest.runs import ImportResult

__all__ = ["CatalogueResult", "FileRejected", "ImportResult", "Rejection", "import_file",
           "import_procedures", "import_units"]
