"""Reading the figures a piece's file carries: electronic invoices (Factur-X, CII, UBL),
fillable certificats de réalisation, and the text layer of a PDF (suggestions only).

Pure: bytes in, a typed :class:`~portal.einvoice.model.Reading` out; no database, no
request, no Flask. :func:`portal.einvoice.reader.read_document` is the entry point.
"""
