"""config.yaml: every error at once, each with path, line, expected, found and hint, word for word."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.config import ConfigError, json_schema, load_config, parse_config
from backend.i18n import LOCALES

ROOT = Path(__file__).resolve().parent.parent


def errors(text: str, base: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base=base)
    return [str(p) for p in caught.value.problems]


def test_an_empty_file_is_a_plain_portal():
    config, warnings = parse_config("")
    assert warnings == []
    assert config.login_link.enabled is True
    assert config.branding.font == "system"
    assert config.features.subscription_update.enabled is False
    assert config.features.customer_update.allowed_updates == ["name", "address", "shipping", "phone", "tax_id"]


def test_the_sample_config_is_valid_and_strict_clean():
    config, warnings = load_config(ROOT / "config.yaml", strict=True)
    assert warnings == []
    assert config.business.name


def test_every_error_is_reported_at_once_with_line_and_hint():
    text = """business:
  support_email: nobody
branding:
  brand_color: navy
  font: comic
login_link:
  enabled: maybe
  url: ftp://billing.acme.example
features:
  customer_update:
    allowed_updates: [name, email]
  subscription_cancel:
    mode: later
  subscription_update:
    products:
      - prices: [price_pro_monthly]
        adjustable_quantity: {minimum: -1}
allowed_origins: [https://acme.example/account]
email:
  from: "Acme <billing@acme.example>\\nBcc: x@evil.example"
webhooks:
  - url: https://acme.example/hooks
    secret_env: lower-case
"""
    assert errors(text) == [
        ('config.yaml:2: business.support_email: expected an email address, found "nobody". '
        "Hint: write an address such as billing@acme.example."),
        ('config.yaml:4: branding.brand_color: expected a colour as "#rrggbb", found "navy". '
        'Hint: write # and six hex digits, such as "#0a2540"; quote it in YAML.'),
        ('config.yaml:5: branding.font: expected one of: system, humanist, geometric, rounded, serif or mono, '
        'found "comic". Hint: choose one of the listed values.'),
        ('config.yaml:7: login_link.enabled: expected true or false, found "maybe". '
        "Hint: write true or false, without quotes."),
        ('config.yaml:8: login_link.url: expected an https:// URL, found "ftp://billing.acme.example". '
        "Hint: write the full address, such as https://acme.example/page (http:// is only allowed for localhost)."),
        ("config.yaml:11: features.customer_update.allowed_updates[1]: expected one of: name, address, shipping, "
        'phone or tax_id, found "email". Hint: customers can never change their email address through the login link.'),
        ('config.yaml:13: features.subscription_cancel.mode: expected one of: at_period_end or immediately, '
        'found "later". Hint: choose one of the listed values.'),
        ("config.yaml:16: features.subscription_update.products[0].product: expected a value, found nothing. "
        "Hint: add this key; it has no default."),
        ("config.yaml:17: features.subscription_update.products[0].adjustable_quantity.minimum: "
        "expected a number at least 0, found -1. Hint: use 0 or more."),
        ('config.yaml:18: allowed_origins[0]: expected an origin such as https://acme.example, '
        'found "https://acme.example/account". Hint: an origin is scheme, host and optional port, with no path.'),
        ('config.yaml:20: email.from: expected a single line of text, found "Acme <billing@acme.example>\\nBcc: x@evil.example". '
        "Hint: remove line breaks and control characters: this text reaches mail headers."),
        ('config.yaml:23: webhooks[0].secret_env: expected an environment variable name, found "lower-case". '
        "Hint: use capitals, digits and _, such as PORCH_WEBHOOK_SECRET."),
    ]


def test_unknown_keys_are_warnings_with_the_known_ones_listed():
    config, warnings = parse_config("business:\n  name: Acme\n  colour: red\nthemes: dark\n")
    assert config.business.name == "Acme"
    assert [str(w) for w in warnings] == [
        ('config.yaml:3: business.colour: expected a known key, found an unknown key. '
        "Hint: remove it, or use one of: name, headline, privacy_policy_url, terms_of_service_url, support_email."),
        ("config.yaml:4: themes: expected a known key, found an unknown key. Hint: remove it, or use one of: "
        "business, branding, login_link, default_return_url, allowed_origins, features, billing, email, locales, webhooks, "
        "configurations."),
    ]


def test_unknown_keys_are_errors_with_strict(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("business:\n  nam: Acme\n")
    load_config(path)
    with pytest.raises(ConfigError) as caught:
        load_config(path, strict=True)
    assert [p.path for p in caught.value.problems] == ["business.nam"]


def test_errors_keep_the_warnings_beside_them():
    with pytest.raises(ConfigError) as caught:
        parse_config("business: {nam: x}\nbranding: {brand_color: red}\n")
    assert [p.path for p in caught.value.problems] == ["branding.brand_color"]
    assert [p.path for p in caught.value.warnings] == ["business.nam"]


def test_yaml_syntax_errors_name_the_line():
    assert errors("business:\n  name: [Acme\nbranding: {}\n") == [
        ("config.yaml:3: (YAML syntax): expected valid YAML, found expected ',' or ']', but got ':'. "
        "Hint: check the indentation and quoting on this line and the one before.")
    ]


def test_duplicate_keys_are_errors():
    assert errors("business:\n  name: A\n  name: B\n") == [
        'config.yaml:3: business.name: expected each key once, found it again. Hint: remove one of the two.'
    ]


def test_wrong_types_say_what_was_found():
    assert errors("business: Acme\nallowed_origins: https://acme.example\n") == [
        'config.yaml:1: business: expected a mapping of keys, found "Acme". Hint: indent the keys below this one.',
        ('config.yaml:2: allowed_origins: expected a list, found "https://acme.example". '
        "Hint: write a list as [a, b] or as lines starting with -."),
    ]


def test_image_paths_must_exist_next_to_the_config(tmp_path):
    (tmp_path / "logo.svg").write_text("<svg/>")
    parse_config("branding: {logo: logo.svg}", base=tmp_path)
    assert errors("branding: {logo: missing.svg, icon: notes.txt}", base=tmp_path) == [
        ('config.yaml:1: branding.icon: expected an image file (.png, .svg, .jpg, .jpeg, .webp, .gif, .ico), '
        'found "notes.txt". Hint: point to a PNG, SVG, JPEG, WebP, GIF or ICO file.'),
        ('config.yaml:1: branding.logo: expected an existing file, found "missing.svg". '
        "Hint: the path is read relative to the folder of config.yaml."),
    ]


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'nope.yaml'}: (file): expected a readable file, found No such file or directory. "
        "Hint: create it, or pass --config PATH, or set PORCH_CONFIG."
    )


def test_origins_include_the_login_link_origin_once():
    config, _ = parse_config(
        "allowed_origins: ['https://acme.example/', https://billing.acme.example]\n"
        "login_link: {url: https://billing.acme.example/portal}\n"
    )
    assert config.origins == ["https://acme.example", "https://billing.acme.example"]


def test_the_login_link_origin_is_the_one_browsers_send():
    config, _ = parse_config("login_link: {url: 'https://Billing.Acme.example:443/portal'}\n")
    assert config.origins == ["https://billing.acme.example"]


def test_an_origin_that_can_never_match_is_refused():
    text = """allowed_origins:
  - https://*.acme.example
  - https://Shop.Acme.example:443
  - https://user@acme.example
  - https://bücher.example
  - https://acme.example:8443/
  - "https://acme.example\\nX-Evil: 1"
  - https://acme.example https://evil.example
  - https://acme.example:99999
  - https://acme..example
"""
    assert errors(text) == [
        ('config.yaml:2: allowed_origins[0]: expected one exact origin, found "https://*.acme.example". '
         "Hint: browsers send one exact origin and Porch compares it exactly, so a wildcard never matches; "
         "list each origin, such as https://shop.acme.example."),
        ('config.yaml:3: allowed_origins[1]: expected an origin written as browsers send it, '
         'found "https://Shop.Acme.example:443". Hint: write https://shop.acme.example; Porch compares origins exactly.'),
        ('config.yaml:4: allowed_origins[2]: expected an origin written as browsers send it, '
         'found "https://user@acme.example". Hint: write https://acme.example; Porch compares origins exactly.'),
        ('config.yaml:5: allowed_origins[3]: expected an origin written as browsers send it, '
         'found "https://bücher.example". Hint: write https://xn--bcher-kva.example; Porch compares origins exactly.'),
        ('config.yaml:7: allowed_origins[5]: expected an https:// URL, found "https://acme.example\\nX-Evil: 1". '
         "Hint: a URL has no spaces, line breaks or control characters; write a space as %20."),
        ('config.yaml:8: allowed_origins[6]: expected an https:// URL, found "https://acme.example https://evil.example". '
         "Hint: a URL has no spaces, line breaks or control characters; write a space as %20."),
        ('config.yaml:9: allowed_origins[7]: expected an https:// URL, found "https://acme.example:99999". '
         "Hint: check the host name and the port (a number from 1 to 65535)."),
        ('config.yaml:10: allowed_origins[8]: expected an https:// URL, found "https://acme..example". '
         "Hint: check the host name and the port (a number from 1 to 65535)."),
    ]


def test_a_webhook_asking_for_an_event_porch_never_sends_stops_the_start():
    assert errors("webhooks: [{url: https://hooks.acme.example/porch, secret_env: HOOK, "
                  "events: [invoice.paid, invoice.payment_failed]}]\n") == [
        ('config.yaml:1: webhooks[0].events[1]: expected one of: *, customer.updated, customer.subscription.updated, '
         'customer.subscription.deleted, payment_method.attached, payment_method.detached, invoice.created or '
         'invoice.paid, found "invoice.payment_failed". Hint: choose one of the listed values.'),
    ]


def test_urls_that_reach_response_headers_are_single_tokens():
    # Image hosts and origins go into the Content-Security-Policy of every page.
    assert errors('branding: {logo: "https://cdn.acme.example/\\u2028logo.png"}\n'
                  'webhooks: [{url: "https://hooks.acme.example/\\tporch", secret_env: HOOK}]\n') == [
        ('config.yaml:1: branding.logo: expected an https:// URL, found "https://cdn.acme.example/\\u2028logo.png". '
         "Hint: a URL has no spaces, line breaks or control characters; write a space as %20."),
        ('config.yaml:2: webhooks[0].url: expected an https:// URL, found "https://hooks.acme.example/\\tporch". '
         "Hint: a URL has no spaces, line breaks or control characters; write a space as %20."),
    ]


@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\t", "\x7f"])
def test_text_that_reaches_mail_headers_refuses_every_line_break_and_control_character(character):
    escaped = {"\t": "\\t"}.get(character, f"\\u{ord(character):04x}")
    text = json.dumps({"business": {"name": f"Acme{character}Corp"},
                       "email": {"from": f"Acme{character}Billing <billing@acme.example>"}}, ensure_ascii=True)
    assert errors(text) == [
        (f'config.yaml:1: business.name: expected a single line of text, found "Acme{escaped}Corp". '
         "Hint: remove line breaks and control characters: this text reaches mail headers."),
        (f'config.yaml:1: email.from: expected a single line of text, found "Acme{escaped}Billing <billing@acme.example>". '
         "Hint: remove line breaks and control characters: this text reaches mail headers."),
    ]


def test_an_add_url_needs_the_portal_address_and_a_signing_key_from_the_config():
    # Both halves of the signed add-card link come from config.yaml: never from a request's Host header.
    text = """features:
  payment_method_update:
    add_url: https://pay.acme.example/add-card
branding:
  brand_color: navy
"""
    assert errors(text) == [
        ("config.yaml:3: features.payment_method_update.add_url: expected login_link.url as well, "
         "found no login_link.url. Hint: set login_link.url to the address where public/ is hosted, such as "
         "https://billing.acme.example; customers come back there from the add-card page."),
        ("config.yaml:3: features.payment_method_update.add_url: expected signing_secret_env as well, "
         "found no signing_secret_env. Hint: add signing_secret_env: PORCH_ADD_CARD_SECRET and set that variable to "
         "a long random key; your add-card page checks each link's signature with it."),
        ('config.yaml:5: branding.brand_color: expected a colour as "#rrggbb", found "navy". '
         'Hint: write # and six hex digits, such as "#0a2540"; quote it in YAML.'),
    ]
    config, _ = parse_config(
        "login_link: {url: https://billing.acme.example}\nfeatures:\n  payment_method_update:\n"
        "    add_url: https://pay.acme.example/add-card\n    signing_secret_env: PORCH_ADD_CARD_SECRET\n"
    )
    assert config.secret_names == ["PORCH_ADD_CARD_SECRET"]


def test_the_published_json_schema_is_current():
    published = json.loads((ROOT / "docs" / "config.schema.json").read_text())
    assert published == json_schema()


def test_the_json_schema_knows_every_top_level_key():
    assert set(json_schema()["properties"]) == {
        "business", "branding", "login_link", "default_return_url", "allowed_origins", "features", "billing", "email",
        "locales", "webhooks", "configurations",
    }


def test_locales_default_to_every_one_with_the_default_first():
    config, _ = parse_config("")
    assert config.locales.offered == list(LOCALES)
    config, _ = parse_config("locales: {available: [fr, DE, pt_br], default: pt-BR}\n")
    assert config.locales.offered == ["pt-BR", "fr", "de"]
    config, _ = parse_config("locales: {available: [de], default: de}\n")
    assert config.locales.offered == ["de"]


def test_locale_errors_name_the_locales_porch_has():
    with pytest.raises(ConfigError) as caught:
        parse_config("locales:\n  available: [de, klingon]\n  default: fr\nbusiness: {name: Acme}\n")
    assert [str(p) for p in caught.value.problems] == [
        'config.yaml:2: locales.available[1]: expected a locale Porch has, such as de or pt-BR, found "klingon". '
        "Hint: use one of: " + ", ".join(LOCALES) + ".",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config("locales:\n  available: [de, fr]\n  default: en\n")
    assert [str(p) for p in caught.value.problems] == [
        ('config.yaml:3: locales.default: expected one of the available locales (de, fr), found "en". '
        "Hint: add en to locales.available, or choose one of them."),
    ]


def test_a_headline_can_be_one_text_or_one_per_locale():
    config, _ = parse_config("business:\n  headline: {en: Hello, de: Hallo, pt_br: Olá}\nlocales: {default: en}\n")
    assert config.business.headline == {"en": "Hello", "de": "Hallo", "pt-BR": "Olá"}
    assert [config.business.headline_in(x, "en") for x in ("de", "de-AT", "pt-BR", "ja")] == ["Hallo", "Hallo", "Olá", "Hello"]
    config, _ = parse_config("business: {headline: Hi}\n")
    assert config.business.headline_in("ja", "en") == "Hi"


def test_headline_errors_say_which_form_is_expected():
    with pytest.raises(ConfigError) as caught:
        parse_config("business:\n  headline: {de: Hallo, klingon: x}\n")
    assert [str(p) for p in caught.value.problems] == [
        'config.yaml:2: business.headline: expected a locale Porch has for each key, such as de or pt-BR, found a mapping. '
        'Hint: "klingon" is not one; use one of: ' + ", ".join(LOCALES) + ".",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config("business:\n  headline: [a, b]\n")
    assert [str(p) for p in caught.value.problems] == [
        ("config.yaml:2: business.headline: expected text, or a mapping of locale to text, found a list. "
        "Hint: write one headline, or one per locale such as {en: ..., de: ...}."),
    ]


# Named configurations


TOP = """business:
  name: Acme
  headline: {en: Hello, de: Hallo}
  privacy_policy_url: https://acme.example/privacy
default_return_url: https://acme.example/account
features:
  subscription_cancel:
    mode: immediately
    cancellation_reason: {options: [too_expensive, other]}
  subscription_update:
    enabled: true
    products:
      - {product: prod_pro, prices: [price_pro_monthly]}
"""


def test_a_configuration_overrides_only_what_it_names():
    config, warnings = parse_config(TOP + """configurations:
  partners:
    features:
      subscription_cancel: {enabled: false}
  eu-annual:
    business: {headline: {de: Guten Tag}}
    default_return_url: https://acme.example/eu
    features:
      subscription_update:
        products: [{product: prod_eu, prices: [price_eu_yearly]}]
""")
    assert warnings == []
    partners = config.configuration("partners")
    assert partners.features.subscription_cancel.enabled is False
    # Everything it leaves out is the top level's, down to the options inside the same feature.
    assert partners.features.subscription_cancel.mode == "immediately"
    assert partners.features.subscription_cancel.cancellation_reason.options == ["too_expensive", "other"]
    assert partners.model_dump(exclude={"features", "configurations"}) == config.model_dump(
        exclude={"features", "configurations"})
    assert partners.features.model_dump(exclude={"subscription_cancel"}) == config.features.model_dump(
        exclude={"subscription_cancel"})
    eu = config.configuration("eu-annual")
    # Mappings merge key by key; lists and texts replace.
    assert eu.business.headline == {"en": "Hello", "de": "Guten Tag"}
    assert eu.business.name == "Acme"
    assert eu.default_return_url == "https://acme.example/eu"
    assert [p.product for p in eu.features.subscription_update.products] == ["prod_eu"]
    assert eu.features.subscription_update.enabled is True
    # The top level is the configuration named default, and the top level's own settings are untouched.
    assert config.configuration("default") is config
    assert config.features.subscription_cancel.enabled is True
    assert list(config.configurations) == ["partners", "eu-annual"]
    with pytest.raises(KeyError):
        config.configuration("nobody")


def test_each_configuration_is_merged_once_at_load():
    config, _ = parse_config("configurations: {partners: {default_return_url: https://acme.example/p}}\n")
    assert config.configuration("partners") is config.configuration("partners")
    assert config.configuration("partners").configurations == {}


def test_configuration_errors_name_the_line_and_the_way_out():
    text = """branding: {font: serif}
configurations:
  Partners: {}
  default: {}
  a-name-that-goes-on-for-more-than-forty-chars: {}
  -leading: {}
  ok:
    branding: {font: mono}
    login_link: {enabled: false}
    featurs: {}
    features:
      subscription_cancel:
        enabld: false
        mode: later
    default_return_url: ftp://acme.example
  empty:
"""
    assert errors(text) == [
        ('config.yaml:3: configurations.Partners: expected a name of lowercase letters, digits, _ and -, found '
        '"Partners". Hint: start with a letter or digit and use at most 40 characters, such as partners or '
        "eu-annual: the name becomes part of URLs."),
        ('config.yaml:4: configurations.default: expected a name other than default, found "default". '
        "Hint: default names the top-level settings; choose another name."),
        ('config.yaml:5: configurations.a-name-that-goes-on-for-more-than-forty-chars: expected a name of lowercase '
        'letters, digits, _ and -, found "a-name-that-goes-on-for-more-than-forty-chars". Hint: start with a letter '
        "or digit and use at most 40 characters, such as partners or eu-annual: the name becomes part of URLs."),
        ('config.yaml:6: configurations.-leading: expected a name of lowercase letters, digits, _ and -, found '
        '"-leading". Hint: start with a letter or digit and use at most 40 characters, such as partners or '
        "eu-annual: the name becomes part of URLs."),
        ("config.yaml:8: configurations.ok.branding: expected a key a configuration can set, found branding. "
        "Hint: branding is the same for every configuration; set it once at the top level."),
        ("config.yaml:9: configurations.ok.login_link: expected a key a configuration can set, found login_link. "
        "Hint: login_link is the same for every configuration; set it once at the top level."),
        ("config.yaml:10: configurations.ok.featurs: expected a key a configuration can set, found an unknown key. "
        "Hint: remove it, or use one of: business, default_return_url, features."),
        ("config.yaml:13: configurations.ok.features.subscription_cancel.enabld: expected a known key, found an "
        "unknown key. Hint: remove it, or use one of: enabled, mode, proration_behavior, cancellation_reason, "
        "retention."),
        ('config.yaml:14: configurations.ok.features.subscription_cancel.mode: expected one of: at_period_end or '
        'immediately, found "later". Hint: choose one of the listed values.'),
        ('config.yaml:15: configurations.ok.default_return_url: expected an https:// URL, found "ftp://acme.example". '
        "Hint: write the full address, such as https://acme.example/page (http:// is only allowed for localhost)."),
        ("config.yaml:16: configurations.empty: expected a mapping of keys, found nothing. "
        "Hint: indent the keys below this one."),
    ]


def test_a_configuration_must_hold_a_mapping_of_names():
    assert errors("configurations: [partners]\n") == [
        "config.yaml:1: configurations: expected a mapping of keys, found a list. Hint: indent the keys below this one.",
    ]
    assert errors('configurations: {"partners\\n": {}}\n') == [
        ('config.yaml:1: configurations.partners\n: expected a name of lowercase letters, digits, _ and -, found '
         '"partners\\n". Hint: start with a letter or digit and use at most 40 characters, such as partners or '
         "eu-annual: the name becomes part of URLs."),
    ]


def test_a_configuration_is_checked_together_with_the_top_level():
    # Valid on its own and valid at the top level, an add_url fails only in the combination: the
    # configuration's add_url needs the top level's login_link.url and a signing key.
    text = """configurations:
  partners:
    features:
      payment_method_update:
        add_url: https://pay.acme.example/add-card
"""
    assert errors(text) == [
        ("config.yaml:5: configurations.partners.features.payment_method_update.add_url: expected login_link.url as "
        "well, found no login_link.url. Hint: set login_link.url to the address where public/ is hosted, such as "
        "https://billing.acme.example; customers come back there from the add-card page."),
        ("config.yaml:5: configurations.partners.features.payment_method_update.add_url: expected signing_secret_env "
        "as well, found no signing_secret_env. Hint: add signing_secret_env: PORCH_ADD_CARD_SECRET and set that "
        "variable to a long random key; your add-card page checks each link's signature with it."),
    ]


def test_the_signing_keys_of_every_configuration_must_be_set():
    config, _ = parse_config("""login_link: {url: https://billing.acme.example}
configurations:
  partners:
    features:
      payment_method_update:
        add_url: https://pay.acme.example/partners/add-card
        signing_secret_env: PORCH_PARTNERS_SECRET
""")
    assert config.secret_names == ["PORCH_PARTNERS_SECRET"]


def test_modified_is_when_the_file_was_changed(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("configurations: {partners: {}}\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    config, _ = load_config(path)
    assert config.modified == 1_700_000_000
    assert config.configuration("partners").modified == 1_700_000_000
    assert parse_config("")[0].modified == 0
