"""The demo's documents: a Factur-X invoice and a fillable certificat de réalisation for the
last month of the demo PTP (DEMO-PTP-0001), which awaits them, issued by the demo OF. Written
by `flask demo seed` into the instance folder, for a new user to drop on the upload form
and see it fill itself."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from portal import formatting
from portal.einvoice import samples

INVOICE_NAME = "facture-facturx-demo.pdf"
CERTIFICATE_NAME = "certificat-realisation-formulaire-demo.pdf"


def last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def write_demo_documents(
    directory: Path,
    *,
    seller_name: str,
    siren: str,
    siret: str,
    buyer_name: str,
    today: date,
) -> list[Path]:
    """Write the two demo documents (replacing older ones); return their paths."""
    start, end = last_month(today)
    directory.mkdir(parents=True, exist_ok=True)
    invoice = samples.InvoiceSpec(
        number=f"FX{start:%Y%m}-DEMO",
        issue_date=end,
        seller_name=seller_name,
        seller_siren=siren,
        seller_siret=siret,
        buyer_name=buyer_name,
        period_start=start,
        period_end=end,
        lines=(
            samples.Line(
                f"Formation, {formatting.month(start)}", Decimal("70"), "HUR", Decimal("21.43")
            ),
        ),
    )
    certificate = samples.CertificateSpec(
        provider=seller_name,
        beneficiary="DURAND Camille",
        action_title="Titre professionnel Développeur web et web mobile",
        period_start=start,
        period_end=end,
        hours="70",
        signatory="Sophie Martin, directrice",
        signed_on=end,
    )
    paths = [directory / INVOICE_NAME, directory / CERTIFICATE_NAME]
    paths[0].write_bytes(samples.facturx_pdf(invoice, "en16931"))
    paths[1].write_bytes(samples.certificate_pdf(certificate))
    return paths
