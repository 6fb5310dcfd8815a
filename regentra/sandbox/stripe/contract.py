"""Check and coerce request parameters against the installed `stripe` SDK's parameter types.

`stripe.params.<Name>Params` are TypedDicts; their annotations are the contract. Unknown
parameters get Stripe's 400 `parameter_unknown`; values are coerced from form strings to the
annotated types (int, bool, lists, nested dicts), with Stripe-like errors when they do not fit.
"""

from __future__ import annotations

import sys
import types
import typing
from functools import cache
from typing import Any, ForwardRef, Literal, NotRequired, Required, Union, get_args, get_origin

from stripe._request_options import RequestOptions

from regentra.sandbox.stripe.errors import StripeError, missing_parameter, unknown_parameter

_REQUEST_OPTIONS = frozenset(RequestOptions.__annotations__)


def params_class(name: str) -> type:
    import stripe.params as params

    cls = getattr(params, name, None)
    if cls is None:
        import stripe.params.checkout as checkout_params

        cls = getattr(checkout_params, name.removeprefix("Checkout"), None)
    if cls is None and name.startswith("BillingPortal"):  # "BillingPortalSessionCreateParams"
        import stripe.params.billing_portal as portal_params

        cls = getattr(portal_params, name.removeprefix("BillingPortal"), None)
    if cls is None and name.startswith("Billing"):  # "BillingMeterCreateParams"
        import stripe.params.billing as billing_params

        cls = getattr(billing_params, name.removeprefix("Billing"), None)
    if cls is None:
        raise LookupError(f"stripe.params has no {name}")
    return typing.cast(type, cls)


@cache
def fields_of(cls: type) -> dict[str, tuple[Any, bool]]:
    """{name: (type, required)} for a params TypedDict, without request options."""
    namespace = dict(vars(sys.modules[cls.__module__]))
    namespace.update(vars(typing))
    result: dict[str, tuple[Any, bool]] = {}
    for name, annotation in cls.__annotations__.items():
        if name in _REQUEST_OPTIONS:
            continue
        if isinstance(annotation, str):
            annotation = ForwardRef(annotation)
        hint = typing._eval_type(annotation, namespace, None)  # type: ignore[attr-defined]
        required = True
        origin = get_origin(hint)
        if origin is NotRequired:
            required, hint = False, get_args(hint)[0]
        elif origin is Required:
            hint = get_args(hint)[0]
        result[name] = (hint, required)
    return result


def _path(parent: str, key: str) -> str:
    return f"{parent}[{key}]" if parent else key


def _is_typeddict(hint: Any) -> bool:
    return (
        isinstance(hint, type) and hasattr(hint, "__annotations__") and hasattr(hint, "__total__")
    )


def _structured(value: Any, hint: Any) -> bool:
    origin: Any = get_origin(hint)
    return isinstance(value, dict | list) and (
        _is_typeddict(hint) or origin is list or origin is dict
    )


def _invalid(path: str, expected: str, value: Any) -> StripeError:
    return StripeError(
        f"Invalid {expected}: {path} must be {expected}"
        if value != ""
        else f"Invalid {expected}: {path} must not be empty",
        code="parameter_invalid_" + ("integer" if expected == "integer" else "string"),
        param=path,
    )


def coerce(value: Any, hint: Any, path: str) -> Any:
    origin = get_origin(hint)
    if hint is Any or hint is object:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        errors: list[StripeError] = []
        # Prefer structured options for structured values.
        ordered = sorted(options, key=lambda o: 0 if _structured(value, o) else 1)
        for option in ordered:
            try:
                return coerce(value, option, path)
            except StripeError as exc:
                errors.append(exc)
        unknown = [e for e in errors if e.code == "parameter_unknown"]
        raise (unknown[0] if unknown else errors[0])
    if origin is Literal:
        allowed = get_args(hint)
        if value in allowed:
            return value
        raise StripeError(
            f"Invalid {path}: must be one of {', '.join(repr(a) for a in allowed)}",
            code="parameter_invalid_string" if allowed and isinstance(allowed[0], str) else None,
            param=path,
        )
    if hint is str:
        if isinstance(value, str):
            return value
        raise _invalid(path, "a string", value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise StripeError(f"Invalid boolean: {value}", param=path)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        raise StripeError(f"Invalid integer: {value}", code="parameter_invalid_integer", param=path)
    if hint is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise StripeError(f"Invalid decimal: {value}", param=path) from None
    if origin in (list, list):
        (item,) = get_args(hint) or (Any,)
        if isinstance(value, dict) and all(k.isdigit() for k in value):
            value = [value[k] for k in sorted(value, key=int)]
        if not isinstance(value, list):
            raise StripeError(f"Invalid array: {path} must be an array", param=path)
        return [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, dict):
        args = get_args(hint)
        val_hint = args[1] if len(args) == 2 else Any
        if not isinstance(value, dict):
            raise StripeError(f"Invalid hash: {path} must be a hash", param=path)
        return {k: coerce(v, val_hint, _path(path, k)) for k, v in value.items()}
    if _is_typeddict(hint):
        if not isinstance(value, dict):
            raise StripeError(f"Invalid hash: {path} must be a hash", param=path)
        return check(value, hint, path)
    if get_origin(hint) is not None and get_origin(hint).__name__ == "UntypedStripeObject":
        if isinstance(value, dict):
            return value
        raise StripeError(f"Invalid hash: {path}", param=path)
    if isinstance(hint, type) and hint.__name__ == "UntypedStripeObject":
        if isinstance(value, dict):
            return value
        raise StripeError(f"Invalid hash: {path}", param=path)
    return value


def check(params: dict[str, Any], cls: type, parent: str = "") -> dict[str, Any]:
    """Validate `params` against the TypedDict `cls`; return them coerced."""
    fields = fields_of(cls)
    out: dict[str, Any] = {}
    for key, value in params.items():
        path = _path(parent, key)
        if key not in fields:
            raise unknown_parameter(path)
        hint, _ = fields[key]
        out[key] = coerce(value, hint, path)
    for key, (_, required) in fields.items():
        if required and key not in params:
            raise missing_parameter(_path(parent, key))
    return out


def validate(params: dict[str, Any], params_name: str) -> dict[str, Any]:
    return check(params, params_class(params_name))
