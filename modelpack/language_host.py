"""`pulumi-language-python`: a Pulumi language host for Python programs, run by the
interpreter modelpack is installed in.

Why this exists: the Pulumi CLI runs a Python program through a separate plugin,
`pulumi-language-python`, normally built from the Go module
`github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3`. The Go module proxy
reachable from our machines refuses every version of that module (HTTP 403 "This module
version is not available"; see README, "Setup"), so this package provides a host under the
same plugin name: a console script of the package (pyproject.toml, `[project.scripts]`), so
`pip install` of modelpack puts it next to the `modelpack` command, on PATH with it.

It speaks the real LanguageRuntime gRPC protocol and runs the program with the Python SDK's
own runtime: `pulumi.automation._server.LanguageServer`, the servicer the SDK uses for inline
Automation API programs. The program (`__main__.py`, or Pulumi.yaml's `main`) runs in this
process, whose interpreter is the virtualenv modelpack is installed in, so dependencies are
whatever was installed there (Pulumi.yaml's `virtualenv` option is not read).

The CLI starts plugins as `pulumi-language-python [flags] <engine address>` and reads the
port the host listens on from its first line of standard output.
"""

from __future__ import annotations

import os
import runpy
import sys
from concurrent import futures
from pathlib import Path

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from modelpack.interrupts import stop_on_interrupt

MAX_MESSAGE_BYTES = 400 * 1024 * 1024


def program_entry(request: language_pb2.RunRequest) -> Path:
    """The file to run: Pulumi.yaml's `main` (a folder or a file) resolved against pwd."""
    base = Path(request.info.program_directory or request.program or request.pwd or ".")
    entry = request.info.entry_point or "."
    candidate = (base / entry).resolve()
    if candidate.is_dir():
        candidate = candidate / "__main__.py"
    return candidate


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request, context):
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version="3.0.0")

    def GetRequiredPlugins(self, request, context):
        # Every plugin the programs here use is on PATH (the CLI built by the set-up step,
        # the dynamic-provider plugin installed with this package).
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):
        return language_pb2.GetRequiredPackagesResponse()

    def About(self, request, context):
        version = ".".join(str(part) for part in sys.version_info[:3])
        return language_pb2.AboutResponse(executable=sys.executable, version=version)

    def InstallDependencies(self, request, context):
        # Dependencies are whatever is installed in this interpreter's virtualenv.
        return iter(())

    def GetProgramDependencies(self, request, context):
        return language_pb2.GetProgramDependenciesResponse()

    def Run(self, request, context):
        entry = program_entry(request)
        if not entry.is_file():
            return language_pb2.RunResponse(error=f"no Python program at {entry}")
        os.chdir(request.pwd or entry.parent)
        sys.path.insert(0, str(entry.parent))
        sys.argv = [str(entry), *request.args]
        # LanguageServer reads the engine address from args[0], as inline programs pass it.
        del request.args[:]
        request.args.append(self.engine_address)

        def program() -> None:
            runpy.run_path(str(entry), run_name="__main__")

        response = LanguageServer(program).Run(request, context)
        if response.error:
            # LanguageServer has already logged the error through the engine; bailing tells the
            # CLI so, instead of printing it a second time as "an unhandled error occurred".
            return language_pb2.RunResponse(bail=True)
        return response


def engine_address(argv: list[str]) -> str:
    """The CLI passes flags (`-root=...`, `-tracing=...`) and then the engine address."""
    positional = [arg for arg in argv if not arg.startswith("-")]
    return positional[-1] if positional else ""


def main() -> None:
    stop_on_interrupt()
    # As `python -u` would: the program's own prints reach the CLI line by line.
    sys.stdout.reconfigure(line_buffering=True)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(
        PythonLanguageHost(engine_address(sys.argv[1:])), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        print(port, flush=True)
        server.wait_for_termination()
    except KeyboardInterrupt:  # the CLI interrupts its plugins when it is done with them
        server.stop(0)


if __name__ == "__main__":
    main()
