"""Document exports: the proforma in PDF/HTML and SAP/UBL formats, rendered from one document model."""
