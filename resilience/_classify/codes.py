"""Provider error identifiers and the kind each one names.

Identifiers are normalised by :func:`resilience._classify.bodies.ident`: lower case,
AWS namespace (``...#``) and suffix (``:http://...``) removed. SDK exception
class names (lower case) are identifiers too, so ``litellm``'s
``ContextWindowExceededError`` and langchain-core's ``ModelRateLimitError``
count as evidence without importing either package.

*Strong* identifiers name the condition on purpose and may refine the HTTP
status. *Weak* ones (``invalid_request_error``, ``api_error``) are too
broad for that; they decide only when there is no status at all.

Providers coin new identifiers all the time (``engine_overloaded_error``,
``server_is_overloaded``, ``model_not_available``,
``request_quota_exceeded``), so an identifier missing from the table is read
by its stem: ``overload`` or an exhausted ``capacity`` is an overload, a
``ratelimit`` a rate limit, an exceeded ``quota`` a quota, ``model_not_...``
a model this target does not serve.
"""

from __future__ import annotations

from resilience._core.failure import Kind

__all__ = ["STRONG_IDENTS", "WEAK_IDENTS", "ident_kind", "location_ident", "weak_kind"]

_STRONG = {
    Kind.RATE_LIMIT: """
        rate_limit_exceeded rate_limit_error rate_limit ratelimit ratelimited rate_limited
        ratelimiterror ratelimitexceeded userratelimitexceeded throttling_error
        throttlingexception throttled throttling too_many_requests toomanyrequests
        toomanyrequestsexception resource_exhausted resourceexhausted ramp_limit_exceeded
        modelratelimiterror routerratelimiterror concurrency_limit_exceeded
    """,
    Kind.QUOTA: """
        quota_exceeded quotaexceeded servicequotaexceededexception dailylimitexceeded
        budget_exceeded budgetexceedederror enforced_spend_limit_reached
        contract_spend_limit_reached linked_organization_spend_limit_reached
        usage_limit_exceeded spend_limit_reached
    """,
    Kind.BILLING: """
        insufficient_quota billing_hard_limit_reached billing_not_active billing_error billing
        payment_required paymentrequired paymentrequirederror insufficient_balance
        insufficient_funds insufficient_credits credit_balance_too_low billing_disabled
        billing_not_enabled user_profile_not_billable linked_organization_billing_unavailable
        account_balance_insufficient credit_limit credit_limit_exceeded arrearage
        exceeded_current_quota_error insufficient_credit
    """,
    Kind.AUTH: """
        invalid_api_key api_key_invalid authentication_error authenticationerror
        unauthenticated unauthorized invalid_authentication unrecognizedclientexception
        expiredtokenexception invalidsignatureexception missingauthenticationtokenexception
        invalidclienttokenid incompletesignature invalid_token token_expired incorrect_api_key
        missing_api_key no_api_key invalid_x_api_key api_key_expired authenticationfailed
        modelauthenticationerror invalid_client credentials_missing credentialserror
        nocredentialserror partialcredentialserror identitytokenfileerror
    """,
    Kind.PERMISSION: """
        permission_error permission_denied permissiondenied permissiondeniederror
        accessdeniedexception access_denied accessdenied forbidden
        unsupported_country_region_territory organization_on_hold api_key_service_blocked
        insufficient_permissions modelpermissiondeniederror regionerror
        user_location_not_supported location_not_supported
    """,
    Kind.NOT_FOUND: """
        model_not_found not_found_error not_found notfound notfounderror
        resourcenotfoundexception model_decommissioned deployment_not_found deploymentnotfound
        modelnotfound no_such_model modelnotfounderror
    """,
    Kind.CONTEXT_LENGTH: """
        context_length_exceeded model_context_window_exceeded context_window_exceeded
        string_above_max_length contextwindowexceedederror contextoverflowerror prompt_too_long
        context_length_exceeded_error exceed_context_size_error input_too_long
    """,
    Kind.CONTENT_FILTER: """
        content_filter content_policy_violation responsibleaipolicyviolation content_filtered
        contentpolicyviolationerror block_safety block_prohibited_content block_blocklist
        block_spii block_other flagged invalid_prompt data_inspection_failed
        guardrail_intervened contentfilterfinishreasonerror moderation_blocked
    """,
    Kind.UNSUPPORTED_FEATURE: """
        unsupported_parameter unsupported_value unsupported_feature unknown_parameter
        unrecognized_request_argument unsupportedparamserror tools_not_supported
    """,
    Kind.PAYLOAD_TOO_LARGE: """
        request_too_large payload_too_large requesttoolarge request_entity_too_large
        content_too_large contenttoolargeerror requesttoolargeerror entitytoolarge
    """,
    Kind.OVERLOADED: """
        overloaded_error overloaded overloadederror serviceunavailableexception
        service_unavailable serviceunavailable unavailable serviceunavailableerror
        modelnotreadyexception server_overloaded capacity_exceeded engine_overloaded
    """,
    Kind.SERVER: """
        server_error internal_error internal internalserverexception internalservererror
        internal_server_error modelerrorexception modelstreamerrorexception modelapierror
        dependencyfailedexception
    """,
    Kind.TIMEOUT: """
        timeout_error timeout deadline_exceeded modeltimeoutexception request_timeout
        modeltimeouterror apitimeouterror requesttimeouterror
    """,
    Kind.GATEWAY: """
        bad_gateway gateway_timeout gateway_timeout_error badgateway badgatewayerror
        gatewaytimeouterror
    """,
    Kind.CLIENT_CLOSED: "client_closed_request clientclosedrequesterror",
}
_WEAK = {
    Kind.BAD_REQUEST: """
        invalid_request_error invalid_argument badrequest bad_request validationexception
        validation_error invalid_request badrequesterror invalid_request_body invalid_value
        unprocessableentityerror modelinvalidrequesterror failed_precondition out_of_range
    """,
    Kind.SERVER: "api_error apierror",
    # OpenAI's error.type on a 429 says which limit: "tokens" or "requests".
    Kind.RATE_LIMIT: "tokens requests",
}


def _key(name: str) -> str:
    # RateLimitExceeded, rate_limit_exceeded and rate-limit-exceeded are one identifier.
    return name.lower().replace("_", "").replace("-", "")


def _table(groups: dict[Kind, str]) -> dict[str, Kind]:
    return {_key(name): kind for kind, names in groups.items() for name in names.split()}


STRONG_IDENTS: dict[str, Kind] = _table(_STRONG)
WEAK_IDENTS: dict[str, Kind] = _table(_WEAK)


# Stems for identifiers the table does not list, most specific first: a
# model that is "not ready" is loading (an overload), not missing.
_STEMS: tuple[tuple[str, Kind], ...] = (
    ("overload", Kind.OVERLOADED),
    ("capacityexceeded", Kind.OVERLOADED),
    ("capacityexhausted", Kind.OVERLOADED),
    ("nocapacity", Kind.OVERLOADED),
    ("notready", Kind.OVERLOADED),
    ("modelnot", Kind.NOT_FOUND),
    ("endpointnot", Kind.NOT_FOUND),
    ("notdeployed", Kind.NOT_FOUND),
    ("ratelimit", Kind.RATE_LIMIT),
    ("throttl", Kind.RATE_LIMIT),
    ("quotaexceeded", Kind.QUOTA),
    ("quotaexhausted", Kind.QUOTA),
)
_SUFFIXES = ("error", "exception")
_LOCATION_IDENTS = frozenset(
    _key(n)
    for n in (
        "unsupported_country_region_territory",
        "regionerror",
        "user_location_not_supported",
        "location_not_supported",
        "unsupported_country",
        "unsupported_region_territory",
    )
)


def ident_kind(name: str) -> Kind | None:
    """The kind a strong identifier names: the table, then the table without
    an ``Error``/``Exception`` suffix, then quota windows from Google quota ids
    (``...PerDay...`` is a quota, ``...PerMinute...`` a rate limit), then stems."""
    key = _key(name)
    kind = STRONG_IDENTS.get(key)
    if kind is not None:
        return kind
    if len(key) < 6 or " " in key:
        return None  # numeric codes, sentences put in "code": not identifiers to stem
    for suffix in _SUFFIXES:
        if key.endswith(suffix):
            kind = STRONG_IDENTS.get(key[: -len(suffix)])
            if kind is not None:
                return kind
    if "perday" in key:
        return Kind.QUOTA
    if "perminute" in key or "persecond" in key:
        return Kind.RATE_LIMIT
    for stem, stem_kind in _STEMS:
        if stem in key:
            return stem_kind
    return None


def location_ident(name: str) -> bool:
    """True for identifiers that name a block on the caller's location."""
    return _key(name) in _LOCATION_IDENTS


def weak_kind(name: str) -> Kind | None:
    """The kind a weak identifier hints at, or None."""
    return WEAK_IDENTS.get(_key(name))
