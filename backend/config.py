"""The config.yaml schema, shared by build.py and the backend.

Validation collects every problem at once and reports each with its key path,
line, what was expected, what was found and a hint. Unknown keys are warnings
(errors under --strict).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from backend.i18n import LOCALES, canonical, match

# What a webhook may ask for: every event type Porch sends (backend/event_types.py makes each, and a
# test keeps the two lists the same), or "*" for all. A name Porch never sends is a typo that would
# leave the receiver waiting for nothing, so it stops the start instead.
WebhookEventOption = Literal[
    "*",
    "customer.updated",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "payment_method.attached",
    "payment_method.detached",
    "invoice.created",
    "invoice.paid",
]
CancellationReasonOption = Literal[
    "too_expensive",
    "missing_features",
    "switched_service",
    "unused",
    "customer_service",
    "too_complex",
    "low_quality",
    "other",
]
CustomerField = Literal["name", "address", "shipping", "phone", "tax_id"]
CANCELLATION_REASONS = get_args(CancellationReasonOption)
CUSTOMER_UPDATES = get_args(CustomerField)
# Font stacks use fonts already on the customer's device: no download, no
# third-party request, and the sign-in page stays inside one round trip.
FONTS = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "humanist": 'Seravek, "Gill Sans Nova", Ubuntu, Calibri, "DejaVu Sans", source-sans-pro, sans-serif',
    "geometric": 'Avenir, Montserrat, Corbel, "URW Gothic", source-sans-pro, sans-serif',
    "rounded": (
        'ui-rounded, "Hiragino Maru Gothic ProN", Quicksand, Comfortaa, Manjari, "Arial Rounded MT", Calibri, source-sans-pro, sans-serif'
    ),
    "serif": 'Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif',
    "mono": 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, "DejaVu Sans Mono", monospace',
}
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Configuration names become ids in URLs (/v1/billing_portal/configurations/bpc_<name>).
CONFIGURATION_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# The top-level settings answer as the configuration of this name, so no named one may take it.
DEFAULT_CONFIGURATION = "default"
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".webp", ".gif", ".ico")


def _fail(expected: str, hint: str, found: str | None = None) -> PydanticCustomError:
    """A problem in Porch's words; `found` replaces the description of the value when the value is not the point."""
    context = {"expected": expected, "hint": hint} | ({"found": found} if found else {})
    return PydanticCustomError("porch", "expected {expected}", context)


def _unprintable(character: str) -> bool:
    # Mail and HTTP libraries split header lines on more than CR and LF (U+2028, U+0085, form feed...):
    # any control character or line or paragraph separator can break a header or end it early.
    return unicodedata.category(character) in ("Cc", "Zl", "Zp")


def _https_url(value: str | None, allow_path: bool = True) -> str | None:
    if value is None:
        return None
    # urlsplit quietly drops tabs and line breaks, but the value itself goes into pages and response headers.
    if any(c.isspace() or _unprintable(c) for c in value):
        raise _fail("an https:// URL", "a URL has no spaces, line breaks or control characters; write a space as %20")
    try:
        parts = urlsplit(value)
        port = parts.port
        origin_of(value)  # a host name without an ASCII form (an empty or overlong label) is unreachable
    except ValueError:  # UnicodeError from the host name among them
        port = -1
    if port is not None and not 0 < port < 65536:
        raise _fail("an https:// URL", "check the host name and the port (a number from 1 to 65535)")
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local) or not parts.hostname:
        raise _fail(
            "an https:// URL",
            "write the full address, such as https://acme.example/page (http:// is only allowed for localhost)",
        )
    if not allow_path and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise _fail(
            "an origin such as https://acme.example",
            "an origin is scheme, host and optional port, with no path",
        )
    return value


def origin_of(url: str) -> str:
    """The origin of a URL as browsers write it in an Origin header: lower case, punycode, no default port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port not in (None, default) else "")


def _allowed_origin(value: str) -> str:
    value = value.rstrip("/")
    _https_url(value, allow_path=False)
    # Origins are compared as exact strings (SPEC section 7, "cross-site"): one that differs from what
    # a browser sends would never match, and the merchant would not know why.
    if "*" in value:
        raise _fail(
            "one exact origin",
            "browsers send one exact origin and Porch compares it exactly, so a wildcard never matches; "
            "list each origin, such as https://shop.acme.example",
        )
    exact = origin_of(value)
    if exact != value:
        raise _fail("an origin written as browsers send it", f"write {exact}; Porch compares origins exactly")
    return value


def _no_header_breaks(value: str) -> str:
    if any(map(_unprintable, value)):
        raise _fail("a single line of text", "remove line breaks and control characters: this text reaches mail headers")
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
        raise _fail("an environment variable name", "use capitals, digits and _, such as PORCH_WEBHOOK_SECRET")
    return value


def _locale(value: str) -> str:
    found = canonical(value)
    if found is None:
        raise _fail("a locale Porch has, such as de or pt-BR", "use one of: " + ", ".join(LOCALES))
    return found


def _configuration_name(value: str) -> str:
    if not re.fullmatch(CONFIGURATION_NAME, value):  # `$` alone would let a final line break through
        raise _fail(
            "a name of lowercase letters, digits, _ and -",
            "start with a letter or digit and use at most 40 characters, such as partners or eu-annual: "
            "the name becomes part of URLs",
        )
    if value == DEFAULT_CONFIGURATION:
        raise _fail("a name other than default", "default names the top-level settings; choose another name")
    return value


def _mail_address(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise _fail("an email address", "write an address such as billing@acme.example") from None
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Business(Section):
    name: str = Field("", description="Business name shown on every page and in mail.")
    headline: str | dict[str, str] = Field(
        "", description="Markdown shown on the sign-in page; sanitised. One text, or one per locale such as {en: ..., de: ...}.",
        json_schema_extra={"anyOf": [
            {"type": "string"},
            {"type": "object", "propertyNames": {"enum": list(LOCALES)}, "additionalProperties": {"type": "string"}},
        ]},
    )
    privacy_policy_url: str | None = Field(None, description="Link to the privacy policy.")
    terms_of_service_url: str | None = Field(None, description="Link to the terms of service.")
    support_email: str | None = Field(None, description="Address customers may write to.")

    _name = field_validator("name")(classmethod(lambda cls, v: _no_header_breaks(v)))
    _urls = field_validator("privacy_policy_url", "terms_of_service_url")(classmethod(lambda cls, v: _https_url(v)))

    @field_validator("headline", mode="plain")
    @classmethod
    def _headline(cls, value: Any) -> str | dict[str, str]:
        # One check for both forms, so that a mistake reads as one problem rather than one per form.
        if isinstance(value, str):
            return value
        if not isinstance(value, dict) or not all(isinstance(text, str) for text in value.values()):
            raise _fail("text, or a mapping of locale to text", "write one headline, or one per locale such as {en: ..., de: ...}")
        unknown = [str(key) for key in value if canonical(str(key)) is None]
        if unknown:
            raise _fail(
                "a locale Porch has for each key, such as de or pt-BR",
                f'"{unknown[0]}" is not one; use one of: ' + ", ".join(LOCALES),
            )
        return {canonical(str(key)) or "": text for key, text in value.items()}

    def headline_in(self, locale: str, default: str) -> str:
        """The headline for `locale`: its own, else its language's, else the default locale's."""
        if isinstance(self.headline, str):
            return self.headline
        found = match([locale, default], self.headline)
        return self.headline[found] if found else ""

    @field_validator("support_email")
    @classmethod
    def _support(cls, value: str | None) -> str | None:
        return None if value is None else _mail_address(value)


class Branding(Section):
    icon: str | None = Field(None, description="Square icon: a file path (relative to config.yaml) or an https URL.")
    logo: str | None = Field(None, description="Logo: a file path (relative to config.yaml) or an https URL.")
    brand_color: str = Field("#1f2937", description='Colour of the header and buttons, as "#rrggbb".')
    accent_color: str = Field("#2563eb", description='Colour of links and focus rings, as "#rrggbb".')
    font: Literal["system", "humanist", "geometric", "rounded", "serif", "mono"] = Field(
        "system", description="A font stack that uses fonts already on the customer's device."
    )

    @field_validator("icon", "logo")
    @classmethod
    def _image(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value.startswith(("https://", "http://")):
            return _https_url(value)
        if not value.lower().endswith(IMAGE_SUFFIXES):
            raise _fail("an image file (" + ", ".join(IMAGE_SUFFIXES) + ")", "point to a PNG, SVG, JPEG, WebP, GIF or ICO file")
        base = (info.context or {}).get("base")
        if base is not None and not (Path(base) / value).is_file():
            raise _fail("an existing file", "the path is read relative to the folder of config.yaml")
        return value

    @field_validator("brand_color", "accent_color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not COLOR.match(value):
            raise _fail('a colour as "#rrggbb"', 'write # and six hex digits, such as "#0a2540"; quote it in YAML')
        return value.lower()


class LoginLink(Section):
    enabled: bool = Field(True, description="When false, no sign-in page is built and the API refuses sign-in.")
    url: str | None = Field(
        None,
        description="Where public/ is hosted, such as https://billing.acme.example. Links Porch signs lead back here; "
        "needed with features.payment_method_update.add_url.",
    )

    _url = field_validator("url")(classmethod(lambda cls, v: _https_url(v)))


class Toggle(Section):
    enabled: bool = True


class CustomerUpdate(Section):
    enabled: bool = True
    allowed_updates: list[CustomerField] = Field(
        default_factory=lambda: list(CUSTOMER_UPDATES),
        description="Fields customers may change. The email address can never be changed through the login link.",
    )


class CancellationReason(Section):
    enabled: bool = True
    options: list[CancellationReasonOption] = Field(default_factory=lambda: list(CANCELLATION_REASONS))


class RetentionOffer(Section):
    """A discount offered before the final step of a cancellation, recorded on the subscription when accepted."""

    enabled: bool = False
    percent_off: int = Field(20, ge=1, le=100, description="Discount in percent.")
    duration_in_months: int = Field(3, ge=1, le=36, description="For how many months the discount applies.")


class SubscriptionCancel(Section):
    enabled: bool = True
    mode: Literal["at_period_end", "immediately"] = "at_period_end"
    proration_behavior: Literal["none", "create_prorations"] = "none"
    cancellation_reason: CancellationReason = CancellationReason()
    retention: RetentionOffer = RetentionOffer()


class PaymentMethodUpdate(Section):
    enabled: bool = True
    add_url: str | None = Field(
        None,
        description="Where customers add a card (a page of your payment processor). Porch appends customer, "
        "return_url, expires and signature query parameters. Needs login_link.url and signing_secret_env.",
    )
    signing_secret_env: str | None = Field(
        None, description="Environment variable holding the key that signs the add_url parameters; needed with add_url."
    )

    _url = field_validator("add_url")(classmethod(lambda cls, v: _https_url(v)))
    _env = field_validator("signing_secret_env")(classmethod(lambda cls, v: v if v is None else _env_name(v)))


class ScheduleAtPeriodEnd(Section):
    conditions: list[Literal["decreasing_item_amount", "shortening_interval"]] = Field(
        default_factory=list, description="Changes that wait until the end of the period instead of applying now."
    )


class AdjustableQuantity(Section):
    enabled: bool = False
    minimum: int = Field(1, ge=0)
    maximum: int = Field(99, ge=1)


class UpdatableProduct(Section):
    product: str = Field(description="A product id such as prod_pro.")
    prices: list[str] = Field(description="The prices of that product customers may switch among.")
    adjustable_quantity: AdjustableQuantity = AdjustableQuantity()


# What a plan change may alter when a product's entry says nothing else (Stripe's default).
DEFAULT_ALLOWED_UPDATES: tuple[Literal["price", "quantity", "promotion_code"], ...] = ("price", "quantity")


class SubscriptionUpdate(Section):
    enabled: bool = False
    default_allowed_updates: list[Literal["price", "quantity", "promotion_code"]] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_UPDATES)
    )
    proration_behavior: Literal["none", "create_prorations", "always_invoice"] = "none"
    products: list[UpdatableProduct] = Field(default_factory=list)
    schedule_at_period_end: ScheduleAtPeriodEnd = ScheduleAtPeriodEnd()


class Features(Section):
    customer_update: CustomerUpdate = CustomerUpdate()
    invoice_history: Toggle = Toggle()
    payment_method_update: PaymentMethodUpdate = PaymentMethodUpdate()
    subscription_cancel: SubscriptionCancel = SubscriptionCancel()
    subscription_update: SubscriptionUpdate = SubscriptionUpdate()


class Email(Section):
    from_: str = Field("Porch <no-reply@localhost>", alias="from", description="Sender of the sign-in code mail.")

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        _no_header_breaks(value)
        address = value.rsplit("<", 1)[1].rstrip(">").strip() if "<" in value else value
        _mail_address(address)
        return value


class Billing(Section):
    engine: Literal["local", "stripe"] = Field(
        "local",
        description="Where the truth lives. local: Porch's store, changed by customers and told to the merchant "
        "by webhooks. stripe: the merchant's Stripe account (PORCH_STRIPE_SECRET_KEY); every customer action is "
        "carried out in Stripe first, and `python -m backend sync` and Stripe's webhooks keep the store current.",
    )


class Locales(Section):
    """The languages the pages are built in. Each visitor gets the one their browser asks for."""

    available: list[Annotated[str, AfterValidator(_locale)]] = Field(
        default_factory=list,
        description="Locales to build, such as [en, de, fr]; empty means every locale Porch has. One locale fixes the language.",
    )
    default: Annotated[str, AfterValidator(_locale)] = Field(
        "en",
        description="The language of the pages at the site's root, and for visitors whose browser asks for none of the available ones.",
    )

    @field_validator("default")
    @classmethod
    def _among_available(cls, value: str, info: ValidationInfo) -> str:
        available = info.data.get("available") or []
        if available and value not in available:
            raise _fail(
                "one of the available locales (" + ", ".join(available) + ")", f"add {value} to locales.available, or choose one of them"
            )
        return value

    @property
    def offered(self) -> list[str]:
        """The locales to build, the default first."""
        rest = [locale for locale in (self.available or LOCALES) if locale != self.default]
        return [self.default, *dict.fromkeys(rest)]

    def base(self, locale: str) -> str:
        """Where a locale's pages are: the default's at the site's root, every other's in its folder."""
        return "/" if locale == self.default else f"/{locale}/"


def _every_event() -> list[WebhookEventOption]:
    return ["*"]


class Webhook(Section):
    url: str = Field(description="The receiver's https URL.")
    secret_env: str = Field(description="Name of the environment variable that holds the signing secret.")
    events: list[WebhookEventOption] = Field(default_factory=_every_event,
                                             description='Event types, or ["*"] for all.')

    _url = field_validator("url")(classmethod(lambda cls, v: _https_url(v)))

    _env = field_validator("secret_env")(classmethod(lambda cls, v: _env_name(v)))


def _inherited(schema: dict[str, Any]) -> None:
    # What a configuration leaves out is the top level's, not the default an editor would otherwise suggest.
    for field in schema["properties"].values():
        field.pop("default", None)


class Configuration(Section):
    """What one named configuration sets apart from the top level; the rest it takes from there."""

    # The effective settings are Config.configuration(name): these merged over the top level's.
    model_config = ConfigDict(json_schema_extra=_inherited)

    business: Business = Business()
    default_return_url: str | None = Field(None, description="Where customers go back to on the merchant's site.")
    features: Features = Features()

    _return = field_validator("default_return_url")(classmethod(lambda cls, v: _https_url(v)))


def _merged(base: Any, override: Any) -> Any:
    """`override` over `base`: mappings merge key by key; anything else (lists, texts, null) replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        return base | {key: _merged(base.get(key), value) for key, value in override.items()}
    return override


def _rebuilt(error: ErrorDetails, loc: tuple[str | int, ...]) -> InitErrorDetails:
    """A validation error found in one place, to raise again at `loc`."""
    ctx = error.get("ctx") or {}
    if error["type"] == "porch":
        return {"type": _fail(ctx["expected"], ctx["hint"], ctx.get("found")), "loc": loc, "input": error["input"]}
    return {"type": error["type"], "loc": loc, "input": error["input"]} | ({"ctx": ctx} if ctx else {})  # type: ignore[return-value]


class Config(Section):
    """The whole config.yaml. Every key has a default: an empty file is a plain portal."""

    business: Business = Business()
    branding: Branding = Branding()
    login_link: LoginLink = LoginLink()
    default_return_url: str | None = Field(None, description="Where customers go back to on the merchant's site.")
    allowed_origins: list[Annotated[str, AfterValidator(_allowed_origin)]] = Field(
        default_factory=list,
        description="Origins of pages that may embed sign-in or call the API, each exactly as browsers send it, "
        "such as https://acme.example: lower case, no path, no wildcard.",
    )
    features: Features = Features()
    billing: Billing = Billing()
    email: Email = Email()
    locales: Locales = Locales()
    webhooks: list[Webhook] = Field(default_factory=list)
    configurations: dict[Annotated[str, AfterValidator(_configuration_name)], Configuration] = Field(
        default_factory=dict,
        description="Named configurations a portal session can pick, each setting features, business and "
        "default_return_url apart from the settings above; what a configuration leaves out it takes from them. "
        "Mappings merge key by key; lists and texts replace.",
        json_schema_extra={"propertyNames": {"pattern": CONFIGURATION_NAME, "not": {"const": DEFAULT_CONFIGURATION}}},
    )
    # Each configuration's settings, merged and validated once at load: sessions ask for them per request.
    _configurations: dict[str, Config] = PrivateAttr(default_factory=dict)
    _modified: int = PrivateAttr(0)

    _return = field_validator("default_return_url")(classmethod(lambda cls, v: _https_url(v)))

    @model_validator(mode="wrap")
    @classmethod
    def _each_configuration(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Config:
        config: Config = handler(data)
        config._modified = (info.context or {}).get("modified", 0)
        named = data.get("configurations") if isinstance(data, dict) else None
        if not named:
            return config
        top = {key: value for key, value in data.items() if key != "configurations"}
        problems: list[InitErrorDetails] = []
        for name, overrides in named.items():
            # Each part is valid on its own by now; what fails here fails only in the combination (such as an
            # add_url without the top level's signing_secret_env), so it is reported inside the configuration.
            try:
                config._configurations[name] = Config.model_validate(_merged(top, overrides), context=info.context)
            except ValidationError as exc:
                problems.extend(_rebuilt(error, ("configurations", name, *error["loc"])) for error in exc.errors())
        if problems:
            raise ValidationError.from_exception_data("Config", problems)
        return config

    def configuration(self, name: str) -> Config:
        """The settings of a named configuration (the top level's for `default`); KeyError for an unknown name."""
        return self if name == DEFAULT_CONFIGURATION else self._configurations[name]

    @property
    def modified(self) -> int:
        """When config.yaml was last changed, in seconds since the epoch; 0 when the text came from elsewhere."""
        return self._modified

    @field_validator("features")
    @classmethod
    def _add_url_needs(cls, features: Features, info: ValidationInfo) -> Features:
        # The add-card link is signed, and it leads back to the portal: both the key and the portal's
        # address come from here, never from a request's Host header (SPEC section 7, "URLs").
        feature = features.payment_method_update
        if feature.add_url is None:
            return features
        missing = []
        login_link = info.data.get("login_link")  # absent when it has errors of its own, reported already
        if login_link is not None and login_link.url is None:
            missing.append(_fail(
                "login_link.url as well",
                "set login_link.url to the address where public/ is hosted, such as https://billing.acme.example; "
                "customers come back there from the add-card page",
                "no login_link.url",
            ))
        if feature.signing_secret_env is None:
            missing.append(_fail(
                "signing_secret_env as well",
                "add signing_secret_env: PORCH_ADD_CARD_SECRET and set that variable to a long random key; "
                "your add-card page checks each link's signature with it",
                "no signing_secret_env",
            ))
        if missing:
            # Every problem at once, each at the add_url line that calls for it.
            raise ValidationError.from_exception_data("Config", [
                {"type": error, "loc": ("payment_method_update", "add_url"), "input": feature.add_url}
                for error in missing
            ])
        return features

    @property
    def secret_names(self) -> list[str]:
        """Environment variables the config names as signing keys; each must be set before the backend starts."""
        names = [hook.secret_env for hook in self.webhooks]
        for each in (self, *self._configurations.values()):
            names.append(each.features.payment_method_update.signing_secret_env or "")
        return list(dict.fromkeys(name for name in names if name))

    @property
    def origins(self) -> list[str]:
        """Every origin trusted to embed pages and call the API: allowed_origins and the login link's own."""
        found = list(self.allowed_origins)
        if self.login_link.url:
            found.append(origin_of(self.login_link.url))
        return list(dict.fromkeys(found))


# What a user reads when a plain type check fails, by pydantic's error type.
EXPECTED = {
    "string_type": ("text", "put the value in quotes"),
    "bool_type": ("true or false", "write true or false, without quotes"),
    "bool_parsing": ("true or false", "write true or false, without quotes"),
    "int_type": ("a whole number", "write digits only, such as 10"),
    "int_parsing": ("a whole number", "write digits only, such as 10"),
    "int_from_float": ("a whole number", "write digits only, such as 10"),
    "list_type": ("a list", "write a list as [a, b] or as lines starting with -"),
    "model_type": ("a mapping of keys", "indent the keys below this one"),
    "dict_type": ("a mapping of keys", "indent the keys below this one"),
    "model_attributes_type": ("a mapping of keys", "indent the keys below this one"),
    "missing": ("a value", "add this key; it has no default"),
}


ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\0": "\\0"}


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    path: str
    line: int | None
    expected: str
    found: str
    hint: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: expected {self.expected}, found {self.found}. Hint: {self.hint}."


class ConfigError(Exception):
    """The config cannot be used; `problems` lists every reason at once, `warnings` what else was noticed."""

    def __init__(self, problems: list[ConfigProblem], warnings: list[ConfigProblem] | None = None):
        self.problems = problems
        self.warnings = warnings or []
        super().__init__("\n".join(str(p) for p in problems))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return str(value)
    # Line breaks and control characters are shown as escapes so that one problem stays on one
    # line and an invisible character can be found.
    text = "".join(ESCAPES.get(c) or (f"\\u{ord(c):04x}" if _unprintable(c) else c) for c in str(value))
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":  # where pydantic places a mapping's key when the key itself is wrong
            continue
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text or "(top level)"


class _Lines:
    """Line numbers of every key and item, read from the YAML node tree."""

    def __init__(self, node: yaml.Node | None):
        self.lines: dict[tuple[Any, ...], int] = {}
        self.duplicates: list[tuple[tuple[Any, ...], int]] = []
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key, value in node.value:
                child = path + (key.value,)
                if key.value in seen:
                    self.duplicates.append((child, key.start_mark.line + 1))
                seen.add(key.value)
                self.lines[child] = key.start_mark.line + 1
                self._walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[path + (index,)] = item.start_mark.line + 1
                self._walk(item, path + (index,))

    def of(self, loc: tuple[Any, ...]) -> int | None:
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return None


def _unknown_key_hint(loc: tuple[Any, ...]) -> str:
    if loc[0] == "configurations" and len(loc) == 3 and loc[2] in Config.model_fields:
        return f"{loc[2]} is the same for every configuration; set it once at the top level"
    parent: Any = Config
    named = False
    for part in loc[:-1]:
        if isinstance(part, int) or named:  # a list's index, or a name a mapping such as configurations holds
            named = False
            continue
        field = parent.model_fields.get(part) or next(
            (f for f in parent.model_fields.values() if f.alias == part), None
        )
        annotation = getattr(field, "annotation", None)
        args = getattr(annotation, "__args__", ())
        named = getattr(annotation, "__origin__", None) is dict
        parent = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if parent is None:
            return "remove it"
    names = [f.alias or n for n, f in parent.model_fields.items()]
    return "remove it, or use one of: " + ", ".join(names)


def _drop(data: Any, loc: tuple[Any, ...]) -> None:
    for part in loc[:-1]:
        data = data[part]
    del data[loc[-1]]


# libyaml's parser, which PyYAML's wheels include, reads a config in a tenth of the time of the pure-Python one
# (some 14 ms of every start); the pure-Python one words the messages for a text libyaml refuses.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parsed(text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the data of `text`."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER), yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)


def parse_config(text: str, file: str = "config.yaml", base: Path | None = None,
                 modified: int = 0) -> tuple[Config, list[ConfigProblem]]:
    """Validate YAML text; return the config and the warnings, or raise ConfigError with every error.
    `modified`: when the text was last changed, as Config.modified answers."""
    try:
        node, data = _parsed(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [
                ConfigProblem(
                    file, "(YAML syntax)", mark.line + 1 if mark else None, "valid YAML", problem,
                    "check the indentation and quoting on this line and the one before",
                )
            ]
        ) from None
    lines = _Lines(node)
    errors = [
        ConfigProblem(file, _dotted(loc), line, "each key once", "it again", "remove one of the two")
        for loc, line in lines.duplicates
    ]
    if data is None:
        data = {}
    warnings: list[ConfigProblem] = []
    context = {"base": base, "modified": modified}
    while True:
        try:
            config = Config.model_validate(data, context=context)
            break
        except ValidationError as exc:
            unknown = [e for e in exc.errors() if e["type"] == "extra_forbidden"]
            for error in exc.errors():
                loc = tuple(error["loc"])
                line = lines.of(loc)
                if error["type"] == "extra_forbidden" and loc[0] != "configurations":
                    warnings.append(
                        ConfigProblem(file, _dotted(loc), line, "a known key", "an unknown key", _unknown_key_hint(loc))
                    )
                    continue
                if error["type"] == "extra_forbidden":
                    # A configuration exists to differ from the top level: a key it misspells or cannot set would
                    # leave it silently the same, such as still allowing what it was meant to switch off.
                    expected = "a key a configuration can set" if len(loc) == 3 else "a known key"
                    found = loc[-1] if len(loc) == 3 and loc[-1] in Config.model_fields else "an unknown key"
                    hint = _unknown_key_hint(loc)
                    errors.append(ConfigProblem(file, _dotted(loc), line, expected, found, hint))
                    continue
                if error["type"] == "porch":
                    expected, hint = error["ctx"]["expected"], error["ctx"]["hint"]
                elif error["type"] == "literal_error":
                    expected = "one of: " + error["ctx"]["expected"].replace("'", "")
                    hint = "choose one of the listed values"
                    if loc[-2:-1] == ("allowed_updates",) and error["input"] == "email":
                        hint = "customers can never change their email address through the login link"
                elif error["type"] in ("greater_than_equal", "less_than_equal"):
                    word = "at least" if error["type"] == "greater_than_equal" else "at most"
                    bound = error["ctx"]["ge" if word == "at least" else "le"]
                    expected, hint = f"a number {word} {bound}", f"use {bound} or {'more' if word == 'at least' else 'less'}"
                else:
                    expected, hint = EXPECTED.get(error["type"], (error["msg"].lower(), "see docs/config.schema.json"))
                found = error.get("ctx", {}).get("found") or (
                    "nothing" if error["type"] == "missing" else _describe(error["input"]))
                errors.append(ConfigProblem(file, _dotted(loc), line, expected, found, hint))
            if errors or not unknown:
                raise ConfigError(sorted(errors, key=lambda p: p.line or 0), warnings) from None
            for error in unknown:
                _drop(data, tuple(error["loc"]))
    if errors:
        raise ConfigError(errors, warnings)
    return config, sorted(warnings, key=lambda p: p.line or 0)


def load_config(path: str | Path, strict: bool = False) -> tuple[Config, list[ConfigProblem]]:
    """Read and validate a config file; a missing file is an error, an empty one a plain portal."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), "(file)", None, "a readable file", exc.strerror or str(exc),
                           "create it, or pass --config PATH, or set PORCH_CONFIG")]
        ) from None
    config, warnings = parse_config(text, file=path.name, base=path.parent, modified=int(path.stat().st_mtime))
    if strict and warnings:
        raise ConfigError(warnings)
    return config, warnings


def json_schema() -> dict[str, Any]:
    """The JSON Schema of config.yaml, for editors."""
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Porch config.yaml"
    return schema
