"""The API's request and response schemas, declared once (marshmallow): flask-smorest
validates requests against them, serialises answers through them and writes the OpenAPI
document from them.

Every schema refuses unknown fields (`RAISE`), and the query parameters too (see
`parser`): a misspelt field must not be silently dropped.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from portal.models import (
    Category,
    ControlStatus,
    DecisionOutcome,
    DossierStatus,
    Modality,
    PaymentRhythm,
    PieceKind,
    RequestStatus,
    Scheme,
    Severity,
    WebhookEvent,
)

# French messages for what marshmallow refuses (the API speaks French to humans).
fields.Field.default_error_messages.update(
    {
        "required": "Champ obligatoire.",
        "null": "Ce champ ne peut pas être nul.",
        "validator_failed": "Valeur refusée.",
    }
)
fields.String.default_error_messages.update({"invalid": "Texte attendu."})
fields.Integer.default_error_messages.update({"invalid": "Nombre entier attendu."})
fields.Boolean.default_error_messages.update({"invalid": "Booléen attendu (true ou false)."})
fields.Date.default_error_messages.update({"invalid": "Date attendue, au format AAAA-MM-JJ."})
fields.DateTime.default_error_messages.update(
    {"invalid": "Date et heure attendues, au format ISO 8601 (2026-03-01T08:00:00+01:00)."}
)
fields.List.default_error_messages.update({"invalid": "Liste attendue."})
fields.Nested.default_error_messages.update({"type": "Objet attendu."})
fields.Url.default_error_messages.update({"invalid": "Adresse web (URL) attendue."})
validate.OneOf.default_message = "Valeur inconnue : choisissez parmi {choices}."
validate.Length.message_max = "Trop long : {max} caractères au plus."
validate.Length.message_min = "Trop court : {min} caractère(s) au moins."
validate.Length.message_all = "Longueur attendue : entre {min} et {max}."


def _choices(enum) -> validate.OneOf:
    return validate.OneOf([member.value for member in enum])


def _enum(enum, **kwargs) -> fields.String:
    values = [member.value for member in enum]
    metadata = {"enum": values, **kwargs.pop("metadata", {})}
    return fields.String(validate=validate.OneOf(values), metadata=metadata, **kwargs)


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


#: The longest page of a list, and the default one.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

# --- Errors ------------------------------------------------------------------------------

ERROR_CODES = (
    "bad_request",
    "invalid_identifier",
    "invalid_date",
    "unknown_parameter",
    "unknown_field",
    "invalid_fields",
    "invalid_cursor",
    "unauthenticated",
    "forbidden",
    "insufficient_scope",
    "not_found",
    "method_not_allowed",
    "stale_version",
    "idempotency_key_reused",
    "conflict",
    "payload_too_large",
    "unsupported_media_type",
    "too_many_requests",
    "internal_error",
)


class ErrorBody(Strict):
    code = fields.String(
        required=True,
        metadata={
            "pattern": "^[a-z][a-z_]*$",
            "description": "Code stable, en anglais, à tester par les programmes : "
            + ", ".join(f"`{code}`" for code in ERROR_CODES)
            + ".",
            "example": "invalid_fields",
        },
    )
    message = fields.String(
        required=True, metadata={"description": "Explication en français, pour un humain."}
    )
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Les messages par champ refusé (nommé comme dans la requête)."},
    )
    current_version = fields.Integer(
        metadata={"description": "La version actuelle du dossier (code `stale_version`)."}
    )
    incident = fields.String(metadata={"description": "Numéro d'incident d'une erreur interne."})


class Error(Strict):
    error = fields.Nested(ErrorBody, required=True)


# --- Index and Qualiopi --------------------------------------------------------------------


class IndexUser(Strict):
    email = fields.String(required=True)
    role = fields.String(
        required=True,
        metadata={"enum": ["admin", "funder_admin", "controller", "provider", "ministry"]},
    )


class IndexToken(Strict):
    label = fields.String(required=True)
    funder = fields.String(required=True, metadata={"description": "Le financeur du jeton."})
    scopes = fields.List(fields.String(), required=True)


class Index(Strict):
    version = fields.String(required=True, metadata={"const": "v1"})
    user = fields.Nested(IndexUser, metadata={"description": "Jeton personnel : son titulaire."})
    token = fields.Nested(IndexToken, metadata={"description": "Jeton d'un financeur."})


class QualiopiQuery(Strict):
    on = fields.String(
        metadata={
            "format": "date",
            "description": "La date à vérifier (AAAA-MM-JJ ; par défaut, ce jour).",
            "example": "2025-06-30",
        }
    )


class Categories(Strict):
    actions_formation = fields.Boolean(required=True)
    bilans_competences = fields.Boolean(required=True)
    vae = fields.Boolean(required=True)
    apprentissage = fields.Boolean(required=True)


class Match(Strict):
    nda = fields.String(
        required=True,
        metadata={"pattern": "^[0-9]{11}$", "description": "Numéro de déclaration d'activité."},
    )
    siren = fields.String(required=True)
    siret = fields.String(required=True)
    denomination = fields.String(required=True)
    region = fields.String(required=True)
    certified = fields.Boolean(required=True)
    categories = fields.Nested(Categories, required=True)
    matched_by = fields.String(
        required=True,
        metadata={
            "enum": ["nda", "siret", "siren", "previous_nda"],
            "description": "Comment l'organisme a été trouvé : `nda`, `siret` (établissement "
            "déclarant), `siren` (par le SIREN, ou le SIREN d'un SIRET non déclarant), "
            "`previous_nda` (ancien NDA de l'organisme).",
        },
    )


class CheckResult(Strict):
    query = fields.String(required=True)
    on = fields.String(required=True, metadata={"format": "date"})
    list_as_of = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    matches = fields.List(fields.Nested(Match), required=True)


class AlertDossier(Strict):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)


class Alert(Strict):
    id = fields.Integer(required=True)
    nda = fields.String(required=True)
    provider_name = fields.String(required=True)
    left_list = fields.Boolean(
        required=True, metadata={"description": "L'OF a quitté la liste publique."}
    )
    lost_categories = fields.List(fields.String(), required=True)
    list_as_of = fields.Date(required=True)
    created_at = fields.DateTime(required=True)
    acknowledged = fields.Boolean(required=True)
    dossiers = fields.List(fields.Nested(AlertDossier), required=True)


# --- Pages ---------------------------------------------------------------------------------


class PageQuery(Strict):
    limit = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(
            1, MAX_PAGE_SIZE, error=f"Une page compte de 1 à {MAX_PAGE_SIZE} éléments."
        ),
        metadata={
            "description": f"Taille de la page ({DEFAULT_PAGE_SIZE} par défaut, "
            f"{MAX_PAGE_SIZE} au plus)."
        },
    )
    cursor = fields.String(
        validate=validate.Regexp(
            r"^[0-9]{1,18}$", error="Curseur illisible : reprenez le `next_cursor` d'une page."
        ),
        metadata={"description": "Le `next_cursor` de la page précédente (opaque)."},
    )


def _page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    return type(
        name,
        (Strict,),
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                metadata={
                    "description": "À passer en `cursor` pour la page suivante ; `null` "
                    "à la dernière page."
                },
            ),
        },
    )


# --- Dossiers ------------------------------------------------------------------------------

_HOURS = "Heures, en nombre décimal : « 1085 », « 1085.5 » (1 085 heures 30 minutes)."
_AMOUNT = "Montant en euros, avec au plus deux décimales : « 1500 », « 1500.50 »."
_PROVIDER = "Le SIRET de l'établissement qui réalise l'action, ou le NDA de l'organisme."


class DossierFields(Strict):
    """What the funder's system sends (creation: every field but `rncp_code`,
    `instalments`, `subcontracted`)."""

    reference = fields.String(required=True, validate=validate.Length(1, 50))
    provider = fields.String(
        required=True, validate=validate.Length(1, 40), metadata={"description": _PROVIDER}
    )
    beneficiary_last_name = fields.String(required=True, validate=validate.Length(1, 100))
    beneficiary_first_name = fields.String(required=True, validate=validate.Length(1, 100))
    action_title = fields.String(required=True, validate=validate.Length(1, 300))
    category = _enum(Category, required=True)
    scheme = _enum(Scheme, required=True)
    rncp_code = fields.String(
        allow_none=True,
        validate=validate.Length(max=20),
        metadata={"description": "Code RNCP ou RS (RNCP12345, RS1234)."},
    )
    modality = _enum(Modality, required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    planned_hours = fields.String(
        required=True, validate=validate.Length(1, 20), metadata={"description": _HOURS}
    )
    agreed_amount = fields.String(
        required=True, validate=validate.Length(1, 20), metadata={"description": _AMOUNT}
    )
    payment_rhythm = _enum(PaymentRhythm, required=True)
    instalments = fields.Integer(
        allow_none=True,
        validate=validate.Range(1, 120, error="De 1 à 120 échéances."),
        metadata={"description": "Nombre d'échéances (paiement par échéances)."},
    )
    subcontracted = fields.Boolean(load_default=False)


class DossierCreate(DossierFields):
    pass


class DossierUpdate(Strict):
    """A change: `version` (the one read) and the fields that change."""

    version = fields.Integer(
        required=True,
        validate=validate.Range(1, 2**31 - 1, error="Version invalide."),
        metadata={"description": "La version du dossier lue avant ce changement."},
    )
    reference = fields.String(validate=validate.Length(1, 50))
    provider = fields.String(validate=validate.Length(1, 40), metadata={"description": _PROVIDER})
    beneficiary_last_name = fields.String(validate=validate.Length(1, 100))
    beneficiary_first_name = fields.String(validate=validate.Length(1, 100))
    action_title = fields.String(validate=validate.Length(1, 300))
    category = _enum(Category)
    scheme = _enum(Scheme)
    rncp_code = fields.String(allow_none=True, validate=validate.Length(max=20))
    modality = _enum(Modality)
    start_date = fields.Date()
    end_date = fields.Date()
    planned_hours = fields.String(validate=validate.Length(1, 20), metadata={"description": _HOURS})
    agreed_amount = fields.String(
        validate=validate.Length(1, 20), metadata={"description": _AMOUNT}
    )
    payment_rhythm = _enum(PaymentRhythm)
    instalments = fields.Integer(
        allow_none=True, validate=validate.Range(1, 120, error="De 1 à 120 échéances.")
    )
    subcontracted = fields.Boolean()
    status = _enum(DossierStatus)


class IdempotencyHeader(Strict):
    class Meta:
        unknown = "exclude"  # every other header of the request

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(1, 100),
        metadata={
            "description": "Une clé unique par dossier à créer (un UUID) : une requête répétée "
            "avec la même clé et le même contenu répond le même dossier, sans en créer un "
            "second."
        },
    )


class DossierProvider(Strict):
    nda = fields.String(required=True)
    siren = fields.String(required=True)
    siret = fields.String(required=True)
    name = fields.String(required=True)


class Dossier(Strict):
    id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    reference = fields.String(required=True)
    status = _enum(DossierStatus, required=True)
    provider = fields.Nested(DossierProvider, required=True)
    provider_siret = fields.String(required=True)
    beneficiary_last_name = fields.String(required=True)
    beneficiary_first_name = fields.String(required=True)
    action_title = fields.String(required=True)
    category = _enum(Category, required=True)
    scheme = _enum(Scheme, required=True)
    rncp_code = fields.String(required=True, allow_none=True)
    modality = _enum(Modality, required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    planned_minutes = fields.Integer(
        required=True, metadata={"description": "Durée prévue, en minutes (13 h 30 : 810)."}
    )
    agreed_amount = fields.String(
        required=True, metadata={"description": "Montant accordé, en euros (« 1500.00 »)."}
    )
    payment_rhythm = _enum(PaymentRhythm, required=True)
    instalments = fields.Integer(required=True, allow_none=True)
    subcontracted = fields.Boolean(required=True)
    missing_pieces_since = fields.Date(
        required=True,
        allow_none=True,
        metadata={"description": "Échéance de la première pièce attendue et non reçue."},
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


DossierPage = _page_of(Dossier, "DossierPage")


class DossierQuery(PageQuery):
    status = _enum(DossierStatus)
    scheme = _enum(Scheme)
    of = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "L'OF : son NDA, son SIREN, son SIRET ou une partie de son nom."},
    )
    q = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "Début d'une référence ou du nom du bénéficiaire."},
    )
    start = fields.Date(metadata={"description": "Période : dossiers qui la chevauchent (début)."})
    end = fields.Date(metadata={"description": "Période : dossiers qui la chevauchent (fin)."})
    updated_since = fields.DateTime(
        metadata={"description": "Dossiers créés ou modifiés depuis cet instant (ISO 8601)."}
    )


# --- Pieces --------------------------------------------------------------------------------


class PieceFile(Strict):
    name = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True, metadata={"pattern": "^[0-9a-f]{64}$"})


class PieceFigures(Strict):
    """The figures typed with the piece (those of its kind; the others are null)."""

    invoice_number = fields.String(required=True, allow_none=True)
    invoice_date = fields.Date(required=True, allow_none=True)
    amount_excl_tax = fields.String(required=True, allow_none=True)
    amount_incl_tax = fields.String(required=True, allow_none=True)
    hours_billed_minutes = fields.Integer(required=True, allow_none=True)
    hours_completed_minutes = fields.Integer(required=True, allow_none=True)
    months_completed = fields.String(required=True, allow_none=True)
    nature = fields.String(required=True, allow_none=True)
    signatory = fields.String(required=True, allow_none=True)
    signed_on = fields.Date(required=True, allow_none=True)
    half_days_planned = fields.Integer(required=True, allow_none=True)
    half_days_signed = fields.Integer(required=True, allow_none=True)
    hours_attended_minutes = fields.Integer(required=True, allow_none=True)
    amount = fields.String(required=True, allow_none=True)


class Piece(Strict):
    id = fields.Integer(required=True)
    kind = _enum(PieceKind, required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    current = fields.Boolean(
        required=True, metadata={"description": "Faux pour une version remplacée."}
    )
    replaces_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    figures = fields.Nested(PieceFigures, required=True)
    file = fields.Nested(PieceFile, required=True)
    download_url = fields.String(required=True)


class PieceList(Strict):
    items = fields.List(fields.Nested(Piece), required=True)


# --- The service-fait control ---------------------------------------------------------------


class Finding(Strict):
    code = fields.String(required=True)
    severity = _enum(Severity, required=True)
    label = fields.String(required=True)
    explanation = fields.String(required=True)
    piece_id = fields.Integer(required=True, allow_none=True)
    period_start = fields.Date(required=True, allow_none=True)
    period_end = fields.Date(required=True, allow_none=True)


class DocumentRequestOut(Strict):
    id = fields.Integer(required=True)
    status = _enum(RequestStatus, required=True)
    created_at = fields.DateTime(required=True)
    due_date = fields.Date(required=True)
    answered_at = fields.DateTime(required=True, allow_none=True)
    closed_at = fields.DateTime(required=True, allow_none=True)
    message = fields.String(required=True)
    items = fields.List(fields.Dict(), required=True)


class Decision(Strict):
    id = fields.Integer(required=True)
    dossier_id = fields.Integer(required=True)
    dossier_reference = fields.String(required=True)
    invoice_id = fields.Integer(required=True)
    invoice_number = fields.String(required=True, allow_none=True)
    outcome = _enum(DecisionOutcome, required=True)
    amount_invoiced = fields.String(required=True)
    amount_validated = fields.String(required=True)
    reason_code = fields.String(required=True, allow_none=True)
    note = fields.String(required=True)
    decided_at = fields.DateTime(required=True)
    active = fields.Boolean(required=True, metadata={"description": "Faux : rouverte."})
    reopened_at = fields.DateTime(required=True, allow_none=True)
    reopen_reason = fields.String(required=True, allow_none=True)


class Control(Strict):
    dossier_id = fields.Integer(required=True)
    status = _enum(
        ControlStatus,
        required=True,
        allow_none=True,
        metadata={"description": "`null` : aucune pièce n'est encore arrivée."},
    )
    invoiced_total = fields.String(required=True)
    validated_total = fields.String(required=True)
    checks_run_at = fields.DateTime(required=True, allow_none=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    findings = fields.List(fields.Nested(Finding), required=True)
    requests = fields.List(fields.Nested(DocumentRequestOut), required=True)
    decisions = fields.List(fields.Nested(Decision), required=True)


class DecisionQuery(PageQuery):
    since = fields.DateTime(
        required=True,
        metadata={"description": "Décisions prises ou rouvertes depuis cet instant (ISO 8601)."},
    )


DecisionPage = _page_of(Decision, "DecisionPage")


class AlertQuery(PageQuery):
    since = fields.DateTime(metadata={"description": "Alertes levées depuis cet instant."})


AlertPage = _page_of(Alert, "AlertPage")


# --- Webhooks ------------------------------------------------------------------------------


class WebhookEndpointIn(Strict):
    url = fields.Url(required=True, schemes={"https", "http"}, validate=validate.Length(max=500))
    events = fields.List(_enum(WebhookEvent), required=True, validate=validate.Length(min=1))
    description = fields.String(load_default="", validate=validate.Length(max=200))


class WebhookEndpointOut(Strict):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(_enum(WebhookEvent), required=True)
    description = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class WebhookEndpointCreated(WebhookEndpointOut):
    secret = fields.String(
        required=True,
        metadata={"description": "Le secret de signature, donné cette seule fois."},
    )


class WebhookEndpointList(Strict):
    items = fields.List(fields.Nested(WebhookEndpointOut), required=True)
