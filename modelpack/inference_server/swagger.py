"""The API description served at ``/swagger.json``, as ``azmlinfsrv`` serves it.

``?version=`` picks 2 (default; alias 2.0), 3 (alias 3.0) or 3.1. The document comes from a
``swagger.json``/``swagger2.json``/``swagger3.json``/``swagger3.1.json`` file in the app root
when there is one, else it is built with the ``inference-schema`` schemas of ``run()``
(``{"type": "object", "example": {}}`` for an undecorated ``run()``). An unknown version, or
one the decorators do not support, is answered 404 with a message.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .settings import Settings

VERSION_ALIASES = {"2": "2", "2.0": "2", "3": "3", "3.0": "3", "3.1": "3.1"}
USER_FILES = {
    "2": ("swagger.json", "swagger2.json"),
    "3": ("swagger3.json",),
    "3.1": ("swagger3.1.json",),
}
UNDESCRIBED = {"type": "object", "example": {}}
ERROR_SCHEMA = {"type": "object", "properties": {"message": {"type": "string"}}}
SERVICE_DESCRIPTION = "API specification for the Azure Machine Learning service"
HEALTH_DESCRIPTION = "Simple health check endpoint to ensure the service is up at any given point."
HEALTHY_DESCRIPTION = (
    "If service is up and running, this response will be returned with the content 'Healthy'"
)
SCORED_DESCRIPTION = (
    "The service processed the input correctly and provided a result prediction, if applicable."
)
ERROR_DESCRIPTION = "The service failed to execute due to an error."
INPUT_DESCRIPTION = "The input payload for executing the real-time machine learning service."


class SwaggerDocs:
    """The encoded documents, one per version, built once after ``init()``."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        self.documents = documents

    @classmethod
    def build(cls, settings: Settings, schemas: tuple[Any, Any, list[str]]) -> SwaggerDocs:
        """``schemas``: input schema, output schema, versions they can be written in."""
        input_schema, output_schema, versions = schemas
        supported = {VERSION_ALIASES[v] for v in versions if v in VERSION_ALIASES}
        documents: dict[str, bytes] = {}
        for version in USER_FILES:
            document = _user_document(settings.app_root, version)
            if document is None and version in supported:
                document = _document(version, settings, input_schema, output_schema)
            if document is not None:
                documents[version] = json.dumps(document).encode()
        return cls(documents)

    def get(self, requested: str | None) -> tuple[int, Any]:
        """(status, JSON body) for ``GET /swagger.json?version=requested``."""
        available = ", ".join(sorted(self.documents))
        version = VERSION_ALIASES.get(requested or "2")
        if version is None:
            message = (
                f"Swagger version [{requested}] is not valid. Supported versions: [{available}]."
            )
            return 404, {"message": message}
        if version not in self.documents:
            message = (
                f"Swagger version [{requested}] is not supported for the scoring script. "
                f"Supported swagger versions: [{available}]."
            )
            return 404, {"message": message}
        return 200, self.documents[version]


def _user_document(app_root: str, version: str) -> Any | None:
    for filename in USER_FILES[version]:
        path = os.path.join(app_root, filename)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    return None


def _document(version: str, settings: Settings, input_schema: Any, output_schema: Any) -> dict:
    prefix = settings.service_path_prefix.strip("/")
    prefix = f"/{prefix}" if prefix else ""
    info = {
        "title": settings.service_name,
        "description": f"{SERVICE_DESCRIPTION} {settings.service_name}",
        "version": settings.service_version,
    }
    if version == "2":
        return _swagger2(info, prefix, input_schema, output_schema)
    document = _openapi3(info, prefix, input_schema, output_schema)
    document["openapi"] = "3.1.0" if version == "3.1" else "3.0.3"
    return document


def _operations(ref: str, body: dict[str, Any], schema_of: Any) -> dict[str, Any]:
    """The three operations, written once for both formats; ``schema_of`` wraps a schema."""
    error = {"description": ERROR_DESCRIPTION, **schema_of(f"{ref}ErrorResponse")}
    health = {
        "operationId": "ServiceHealthCheck",
        "description": HEALTH_DESCRIPTION,
        "responses": {
            "200": {"description": HEALTHY_DESCRIPTION, **schema_of(None, "text/plain")},
            "default": error,
        },
    }
    score = {
        "operationId": "RunMLService",
        "description": "Run web service's model and get the prediction output",
        "security": [{"Bearer": []}],
        **body,
        "responses": {
            "200": {"description": SCORED_DESCRIPTION, **schema_of(f"{ref}ServiceOutput")},
            "default": error,
        },
    }
    swagger = {
        "operationId": "GetSwaggerSpec",
        "description": "Get the Swagger specification.",
        "responses": {
            "200": {"description": "The Swagger specification.", **schema_of(None)},
            "default": error,
        },
    }
    return {"/": {"get": health}, "/score": {"post": score}, "/swagger.json": {"get": swagger}}


def _swagger2(info: dict, prefix: str, input_schema: Any, output_schema: Any) -> dict:
    def schema_of(ref: str | None, media: str = "application/json") -> dict:
        return {"schema": {"$ref": ref} if ref else {"type": "string"}}

    body = {
        "parameters": [
            {
                "name": "serviceInputPayload",
                "in": "body",
                "description": INPUT_DESCRIPTION,
                "schema": {"$ref": "#/definitions/ServiceInput"},
            }
        ]
    }
    paths = _operations("#/definitions/", body, schema_of)
    paths["/swagger.json"]["get"]["parameters"] = [
        {"name": "version", "in": "query", "required": False, "type": "integer", "enum": [2, 3]}
    ]
    return {
        "swagger": "2.0",
        "info": info,
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "For example: Bearer abc123",
            }
        },
        "paths": {prefix + path: item for path, item in paths.items()},
        "definitions": {
            "ServiceInput": input_schema,
            "ServiceOutput": output_schema,
            "ErrorResponse": ERROR_SCHEMA,
        },
    }


def _openapi3(info: dict, prefix: str, input_schema: Any, output_schema: Any) -> dict:
    def schema_of(ref: str | None, media: str = "application/json") -> dict:
        schema = {"$ref": ref} if ref else {"type": "string"}
        return {"content": {media: {"schema": schema}}}

    body = {
        "requestBody": {
            "description": INPUT_DESCRIPTION,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ServiceInput"}}
            },
        }
    }
    paths = _operations("#/components/schemas/", body, schema_of)
    paths["/swagger.json"]["get"]["parameters"] = [
        {
            "name": "version",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "enum": [2, 3]},
        }
    ]
    return {
        "openapi": "3.0.3",
        "info": info,
        "security": [{"Bearer": []}],
        "paths": {prefix + path: item for path, item in paths.items()},
        "components": {
            "securitySchemes": {
                "Bearer": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "For example: Bearer abc123",
                }
            },
            "schemas": {
                "ServiceInput": input_schema,
                "ServiceOutput": output_schema,
                "ErrorResponse": ERROR_SCHEMA,
            },
        },
    }
