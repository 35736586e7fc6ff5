"""Render nginx.conf for one endpoint.

What the router does, as Azure ML online endpoints do:
- checks `Authorization: Bearer <key>` against the endpoint's keys (401 otherwise);
- splits live traffic across deployments by weight (`split_clients` on the request id);
- sends a request carrying `azureml-model-deployment: <name>` to that deployment, even at 0%;
- mirrors a percentage of live requests to other deployments, discarding their answers;
- names the deployment that served each answer in an `azureml-model-deployment` header;
- passes request ids through (`x-request-id`, `x-ms-client-request-id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from modelpack.names import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_TOKEN_LIFETIME_S

ROUTER_PORT = 8080
CLIENT_CONNECTION_LIFETIME_S = 2
"""A client's keep-alive connection is closed after the first answer past this age (with
`Connection: close`, so the client knows before it sends again). A router being drained (a
Kubernetes rollout) thus loses its clients cleanly within its drain time, instead of closing
idle connections at its stop, where a request already on its way would be reset."""
ROUTER_BASE_IMAGE = "nginx:1.30"
"""The router image's base (router/image/Dockerfile): nginx 1.27.4 or later, with njs."""
CLIENT_CONNECTION_SHUTDOWN_GRACE_S = 2
"""At a reload the old nginx workers keep their idle kept-alive client connections this long
(keepalive_min_timeout), answering a request that arrives on one with `Connection: close`.
Without it they close them at once, and a request already on its way is reset (measured here
with eight busy clients: 67 requests reset over 100 reloads; none with it)."""
ROUTER_USER_ID = 65534
"""The router image runs nginx as this user (see image/Dockerfile)."""
HEALTH_PATH = "/-/router-health"
AUTH_MODES = ("key", "aml_token")

# Everything rendered into nginx.conf from outside this module must match one of these in
# full: nginx has no escaping that survives every context (quoted strings, locations, maps).
_ENDPOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]")
_DEPLOYMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")
_SERVER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,253}:[0-9]{1,5}")
_VERSION = re.compile(r"[A-Za-z0-9_.-]{0,64}")


class RouterConfigError(ValueError):
    """The configuration cannot be rendered safely; nothing is written."""


BALANCED_SERVER_PICKS = 16
"""How many times a balanced server is listed. nginx tries each listed server at most once for
a request, and the balancer in front of the replicas sends every new connection to any of them:
a connection refused by a replica that died before the cluster noticed is retried on a fresh
pick, up to this many (all dead picks with half the replicas gone: 1 request in 65,536)."""
BALANCED_CONNECTION_LIFETIME_S = 2
"""A kept-alive connection to a balanced server reaches one replica for its whole life: closed
after this long, so that new replicas (a scale-out, a rollout) take their share within seconds,
not after the connection's 1,000th request."""
RETRIES = 3
"""Tries of a request on distinct replicas (connection errors, 502 and 503 answers)."""


@dataclass(frozen=True)
class Upstream:
    deployment: str
    servers: list[str]
    """host:port of every ready replica, or of the one balanced address in front of them."""
    balanced: bool = False
    """The servers balance over the replicas themselves (a Kubernetes Service): each new
    connection may reach another replica, so a server is never marked down."""


@dataclass(frozen=True)
class RouterConfig:
    endpoint: str
    upstreams: list[Upstream]
    traffic: dict[str, int]
    mirror_traffic: dict[str, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    """The endpoint's keys (primary, secondary); at least one, or rendering fails."""
    auth_mode: str = "key"
    """`key`: the keys themselves are accepted bearer tokens; `aml_token`: short-lived tokens
    signed with a key (see router/image/token.js) are."""
    max_token_lifetime_s: int = DEFAULT_MAX_TOKEN_LIFETIME_S
    """aml_token: a token expiring further than this in the future is refused."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    request_timeout_s: float = 90.0
    version: str = ""
    """Answered on the health path, so a reload can be seen to have taken effect."""


def _require(pattern: re.Pattern[str], value: object, what: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RouterConfigError(f"router of endpoint {value!r}: {what} is not allowed here")


def check_config(config: RouterConfig) -> None:
    """Refuse what would render an open router or let a value escape its place in nginx.conf."""
    _require(_ENDPOINT_NAME, config.endpoint, "endpoint name")
    where = f"router of endpoint {config.endpoint!r}"
    if config.auth_mode not in AUTH_MODES:
        raise RouterConfigError(f"{where}: auth_mode must be one of {', '.join(AUTH_MODES)}")
    if not config.keys:
        raise RouterConfigError(
            f"{where}: auth_mode {config.auth_mode} needs the endpoint's keys and there are none;"
            " refusing to render a router that lets every request through"
        )
    for key in config.keys:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise RouterConfigError(f"{where}: a key holds characters other than base64url")
    names = [upstream.deployment for upstream in config.upstreams]
    names += [*config.traffic, *config.mirror_traffic]
    for name in names:
        if not isinstance(name, str) or not _DEPLOYMENT_NAME.fullmatch(name):
            raise RouterConfigError(f"{where}: deployment name {name!r} is not allowed")
    upstream_names = [_upstream_name(upstream.deployment) for upstream in config.upstreams]
    if len(set(upstream_names)) != len(upstream_names):
        raise RouterConfigError(f"{where}: two deployments differ only in '-' and '_'")
    for upstream in config.upstreams:
        for server in upstream.servers:
            if not isinstance(server, str) or not _SERVER.fullmatch(server):
                raise RouterConfigError(f"{where}: replica address {server!r} is not allowed")
    if not isinstance(config.version, str) or not _VERSION.fullmatch(config.version):
        raise RouterConfigError(f"{where}: version {config.version!r} is not allowed")
    if int(config.max_token_lifetime_s) <= 0:
        raise RouterConfigError(f"{where}: the maximum token lifetime must be positive")


def render_closed_conf(endpoint: str) -> str:
    """The configuration a router starts from before its first traffic table: the health
    route, and 503 for every other request (there is nothing to authorize against yet)."""
    _require(_ENDPOINT_NAME, endpoint, "endpoint name")
    lines = [
        "worker_processes 1;",
        "pid /tmp/nginx.pid;",
        "error_log /dev/stderr warn;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        "    client_body_temp_path /tmp/client_body;",
        "    proxy_temp_path /tmp/proxy;",
        "    fastcgi_temp_path /tmp/fastcgi;",
        "    uwsgi_temp_path /tmp/uwsgi;",
        "    scgi_temp_path /tmp/scgi;",
        "    server_tokens off;",
        "    server {",
        f"        listen {ROUTER_PORT} reuseport backlog=4096;",
        f"        location = {HEALTH_PATH} {{ return 200 'ok'; }}",
        '        location / { return 503 \'{"error": "no deployment takes traffic"}\'; }',
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _upstream_name(deployment: str) -> str:
    return "deployment_" + "".join(ch if ch.isalnum() else "_" for ch in deployment)


def _split_clients(variable: str, weights: dict[str, int], rest: str, salt: str = "") -> list[str]:
    lines = [f'    split_clients "{salt}${{request_id}}" {variable} {{']
    for deployment, percent in sorted(weights.items()):
        if percent > 0:
            lines.append(f"        {percent}% {deployment};")
    lines.append(f'        * "{rest}";')
    lines.append("    }")
    return lines


def _nginx_time(seconds: float) -> str:
    """An nginx time value: nginx takes no fractions (`2.5s` is refused), so a duration that
    is not whole seconds is written in milliseconds."""
    milliseconds = round(seconds * 1000)
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{milliseconds}ms"


def render_nginx_conf(config: RouterConfig) -> str:
    """nginx.conf for `config`; raises RouterConfigError rather than render an unsafe one."""
    check_config(config)
    deployments = {upstream.deployment for upstream in config.upstreams if upstream.servers}
    tokens = config.auth_mode == "aml_token"
    lines = [
        # Always loaded: switching auth_mode is then a reload like any other.
        "load_module /usr/lib/nginx/modules/ngx_http_js_module.so;",
        "worker_processes auto;",
        "pid /tmp/nginx.pid;",
        "error_log /dev/stderr warn;",
        "events { worker_connections 4096; }",
        "http {",
        "    access_log off;",
        "    client_body_temp_path /tmp/client_body;",
        "    proxy_temp_path /tmp/proxy;",
        "    fastcgi_temp_path /tmp/fastcgi;",
        "    uwsgi_temp_path /tmp/uwsgi;",
        "    scgi_temp_path /tmp/scgi;",
        f"    client_max_body_size {config.max_body_bytes};",
        "    client_body_buffer_size 1m;",
        "    keepalive_requests 100000;",
        f"    keepalive_time {CLIENT_CONNECTION_LIFETIME_S}s;",
        f"    keepalive_min_timeout {CLIENT_CONNECTION_SHUTDOWN_GRACE_S}s;",
        "    server_tokens off;",
        "    map_hash_bucket_size 256;",
    ]
    for upstream in sorted(config.upstreams, key=lambda u: u.deployment):
        if not upstream.servers:
            continue
        lines.append(f"    upstream {_upstream_name(upstream.deployment)} {{")
        if upstream.balanced:
            lines += [
                f"        server {server} max_fails=0;"
                for server in upstream.servers
                for _ in range(BALANCED_SERVER_PICKS)
            ]
        else:
            lines += [
                f"        server {server} max_fails=1 fail_timeout=2s;"
                for server in upstream.servers
            ]
        lines.append("        keepalive 64;")
        if upstream.balanced:
            lines.append(f"        keepalive_time {BALANCED_CONNECTION_LIFETIME_S}s;")
        lines.append("    }")

    live = {name: pct for name, pct in config.traffic.items() if name in deployments}
    lines += _split_clients("$split_target", live, "")
    lines += [
        "    map $http_azureml_model_deployment $target {",
        '        "" $split_target;',
    ]
    lines += [f'        "{name}" "{name}";' for name in sorted(deployments)]
    lines += ['        default "unknown";', "    }"]
    lines += [
        "    map $target $target_upstream {",
        *[f'        "{name}" {_upstream_name(name)};' for name in sorted(deployments)],
        '        default "";',
        "    }",
        "    map $http_x_request_id $req_id {",
        '        "" $request_id;',
        "        default $http_x_request_id;",
        "    }",
    ]
    if tokens:
        primary, secondary = (config.keys + config.keys)[:2]
        lifetime = int(config.max_token_lifetime_s)
        lines += [
            "    js_import token from /usr/share/modelpack-router/token.js;",
            "    js_set $authorized token.authorized;",
            f'    map $host $endpoint_name {{ default "{config.endpoint}"; }}',
            f'    map $host $token_key_primary {{ default "{primary}"; }}',
            f'    map $host $token_key_secondary {{ default "{secondary}"; }}',
            f'    map $host $token_max_lifetime {{ default "{lifetime}"; }}',
        ]
    else:
        lines.append("    map $http_authorization $authorized {")
        lines += [f'        "Bearer {key}" 1;' for key in config.keys]
        lines += ["        default 0;", "    }"]
    mirrors = {
        name: pct for name, pct in config.mirror_traffic.items() if name in deployments and pct > 0
    }
    for name, percent in sorted(mirrors.items()):
        variable = f"$mirror_{_upstream_name(name)}"
        lines += _split_clients(variable, {"yes": percent}, "no", salt=f"mirror-{name}-")

    timeout = _nginx_time(config.request_timeout_s)
    balanced = any(upstream.balanced for upstream in config.upstreams)
    tries = BALANCED_SERVER_PICKS if balanced else RETRIES
    lines += [
        "    server {",
        f"        listen {ROUTER_PORT} reuseport backlog=4096;",
        f"        location = {HEALTH_PATH} {{ return 200 '{config.version or 'ok'}'; }}",
        "        location / {",
    ]
    lines.append(
        '            if ($authorized = "0") { add_header WWW-Authenticate Bearer always;'
        ' return 401 \'{"error": "missing or invalid key"}\'; }'
    )
    lines += [
        '            if ($target = "unknown") { return 404 \'{"error": "no such deployment"}\'; }',
        '            if ($target_upstream = "") {'
        ' return 503 \'{"error": "no deployment takes traffic"}\'; }',
    ]
    for name in sorted(mirrors):
        lines.append(f"            mirror /_mirror/{name};")
    lines += [
        "            mirror_request_body on;",
        "            proxy_http_version 1.1;",
        '            proxy_set_header Connection "";',
        "            proxy_set_header Host $host;",
        "            proxy_set_header x-request-id $req_id;",
        "            proxy_set_header x-ms-request-id $req_id;",
        "            proxy_set_header azureml-model-deployment $target;",
        '            proxy_set_header Authorization "";',
        "            proxy_hide_header azureml-model-deployment;",
        "            proxy_hide_header x-request-id;",
        "            add_header azureml-model-deployment $target always;",
        "            add_header x-request-id $req_id always;",
        "            proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
        f"            proxy_next_upstream_tries {tries};",
        "            proxy_connect_timeout 2s;",
        f"            proxy_read_timeout {timeout};",
        f"            proxy_send_timeout {timeout};",
        "            proxy_pass http://$target_upstream;",
        "        }",
    ]
    for name in sorted(mirrors):
        variable = f"$mirror_{_upstream_name(name)}"
        lines += [
            f"        location = /_mirror/{name} {{",
            "            internal;",
            f'            if ({variable} = "no") {{ return 204; }}',
            "            proxy_http_version 1.1;",
            '            proxy_set_header Connection "";',
            "            proxy_set_header x-request-id $req_id;",
            f"            proxy_set_header azureml-model-deployment {name};",
            '            proxy_set_header Authorization "";',
            "            proxy_connect_timeout 2s;",
            f"            proxy_read_timeout {timeout};",
            f"            proxy_pass http://{_upstream_name(name)}$request_uri;",
            "        }",
        ]
    lines += ["    }", "}"]
    return "\n".join(line for line in lines if line) + "\n"
