"""The ``vertex-endpoint`` generator: a model deployed on a Vertex AI endpoint (the Model Garden Flux and
Stable Diffusion deployments, or a container of one's own), called through the endpoint's predict method:

    POST {base_url}/v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict
    {"instances": [{"text": prompt}, ...], "parameters": {"width", "height", "num_inference_steps", ...}}
    -> {"predictions": [...], "deployedModelId": "..."}

The instance and parameter names are those of the Model Garden diffusers containers (``prompt_key``,
``seed_key`` and the ``parameters`` table adapt them to another container). A prediction is read as a
base64 string or an object holding one under ``output`` (Model Garden), ``bytesBase64Encoded`` (Google's
image models), ``image`` or ``b64_json``; one that carries ``raiFilteredReason`` instead is a refusal.

Credentials: when the entry names ``api_key_env``, that variable holds an OAuth2 access token (as printed
by ``gcloud auth print-access-token``), sent as a bearer token; otherwise google-auth's application
default credentials are used and refreshed as they expire (``gcloud auth application-default login``, a
service account file in GOOGLE_APPLICATION_CREDENTIALS, or the metadata server on Google Cloud). The
token is sent only to ``base_url`` and is redacted from every message.

Without ``seed_key`` a container's own seeding is used and images report seed None; with it, each image
is its own request carrying seed + k under that parameter name.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator as Flow
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError, MissingDependencyError
from imagearena.generators.config import (
    GeneratorConfig,
    int_option,
    request_batches,
    str_option,
    table_option,
)
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorAuthError,
    GeneratorError,
    UnknownModelError,
)
from imagearena.generators.http import HTTP_OPTIONS, ApiClient, Reply, decode_base64
from imagearena.types import GeneratedImage, GenerationRequest

if TYPE_CHECKING:
    import httpx

DEFAULT_LOCATION = "us-central1"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IMAGE_KEYS = ("output", "bytesBase64Encoded", "image", "b64_json")
#: Words of a refusal in an error answer from a container or from Vertex AI's own filters.
SAFETY_WORDS = re.compile(
    r"safety|responsible ai|\brai\b|blocked|nsfw|prohibited|content polic", re.IGNORECASE
)
_RESOURCE = re.compile(r"projects/([^/]+)/locations/([^/]+)/endpoints/([^/:]+)")
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class _DefaultCredentials:
    """google-auth's application default credentials as an httpx auth: a fresh token on every request
    that needs one, refreshed under a lock, and handed to the client so it is redacted from messages."""

    def __init__(self, client: VertexClient) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.credentials: Any = None

    def token(self) -> str:
        try:
            import google.auth
            import google.auth.exceptions
            import google.auth.transport.requests
        except ImportError:
            raise MissingDependencyError("Vertex AI default credentials", "gen", "google-auth") from None
        where = self.client.where
        with self.lock:
            try:
                if self.credentials is None:
                    self.credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
                if not self.credentials.valid:
                    self.credentials.refresh(google.auth.transport.requests.Request())
            except google.auth.exceptions.DefaultCredentialsError:
                raise GeneratorAuthError(
                    f"{where}: no Google Cloud credentials found: run gcloud auth application-default "
                    "login, set GOOGLE_APPLICATION_CREDENTIALS, or name a variable holding an access "
                    "token with api_key_env"
                ) from None
            except google.auth.exceptions.GoogleAuthError as exc:
                reason = self.client.redact(str(exc)) or type(exc).__name__
                raise GeneratorAuthError(
                    f"{where}: the Google Cloud credentials could not be refreshed ({reason}): run gcloud "
                    "auth application-default login again"
                ) from None
            token = str(self.credentials.token)
        self.client.add_secret(token)
        return token

    def httpx_auth(self) -> httpx.Auth:
        import httpx

        source = self

        class Bearer(httpx.Auth):
            def auth_flow(self, request: httpx.Request) -> Flow[httpx.Request, httpx.Response, None]:
                request.headers["Authorization"] = f"Bearer {source.token()}"
                yield request

        return Bearer()


class VertexClient(ApiClient):
    """The shared client, with application default credentials when the entry names no token variable."""

    def __init__(self, config: GeneratorConfig, base_url: str, **kwargs: Any) -> None:
        super().__init__(config, base_url, **kwargs)
        self._default_credentials = None if config.api_key_env else _DefaultCredentials(self)
        self._authorised: httpx.Client | None = None  # the client that carries the credentials

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets = (*self._secrets, secret)

    def _http(self) -> httpx.Client:
        client = super()._http()
        if self._default_credentials is not None and self._authorised is not client:
            client.auth = self._default_credentials.httpx_auth()
            self._authorised = client
        return client


def endpoint_path(model: str, project: str | None, location: str) -> tuple[str, str]:
    """The ``projects/.../endpoints/...`` resource of ``model`` (an endpoint id or its full resource name)
    and its location."""
    found = _RESOURCE.search(model)
    if found:
        return found.group(0), found.group(2)
    if not _ID.fullmatch(model):
        raise InputError(
            f"model {model!r} is not a Vertex AI endpoint: give its id (digits) or its resource name "
            "projects/<project>/locations/<location>/endpoints/<id>"
        )
    if not project:
        raise InputError(
            f'endpoint {model!r} needs its project: set project = "<project id>" in the entry, or give model '
            "as projects/<project>/locations/<location>/endpoints/<id>"
        )
    return f"projects/{project}/locations/{location}/endpoints/{model}", location


class VertexEndpointGenerator:
    """Images from a model deployed on a Vertex AI endpoint."""

    OPTIONS = HTTP_OPTIONS | frozenset(
        {"project", "location", "prompt_key", "seed_key", "images_per_request", "parameters"}
    )

    def __init__(self, config: GeneratorConfig) -> None:
        if not config.model:
            raise InputError(
                f"generator {config.name!r}: the vertex-endpoint backend needs model = the endpoint id or "
                "projects/<project>/locations/<location>/endpoints/<id>"
            )
        self.config = config
        self.name = config.name
        location = str_option(config, "location", DEFAULT_LOCATION)
        assert location is not None
        try:
            self.resource, self.location = endpoint_path(
                config.model, str_option(config, "project"), location
            )
        except InputError as exc:
            raise InputError(f"generator {config.name!r}: {exc}") from None
        self.base_url = config.base_url or f"https://{self.location}-aiplatform.googleapis.com"
        self.prompt_key = str_option(config, "prompt_key", "text")
        self.seed_key = str_option(config, "seed_key")
        self.images_per_request = int_option(config, "images_per_request", 1, 1, 16)
        self.parameters = table_option(config, "parameters")
        self.client = VertexClient(config, self.base_url, classify=self._classify)

    def __repr__(self) -> str:
        return f"VertexEndpointGenerator(name={self.name!r}, endpoint={self.resource!r})"

    @property
    def where(self) -> str:
        return f"generator {self.name!r}"

    def _classify(self, reply: Reply, text: str) -> GeneratorError | None:
        if reply.status == 400 and SAFETY_WORDS.search(text):
            return GenerationRefused(f"{self.where}: the endpoint refused the prompt (safety block): {text}")
        if reply.status == 404:
            return UnknownModelError(
                f"{self.where}: no endpoint {self.resource} at {self.base_url} (HTTP 404: {text}): check "
                "model, project and location in the generators file"
            )
        return None

    def check(self) -> str:
        """Reads the endpoint's description (GET on the resource): the credentials and the id are good."""
        data = self.client.json("GET", f"/v1/{self.resource}")
        deployed = data.get("deployedModels") if isinstance(data, dict) else None
        if isinstance(deployed, list) and not deployed:
            raise UnknownModelError(
                f"{self.where}: endpoint {self.resource} has no deployed model: deploy one before generating"
            )
        count = len(deployed) if isinstance(deployed, list) else "?"
        return f"endpoint {self.resource} answers ({count} deployed model(s))"

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        req = self.config.complete(request)
        parameters: dict[str, object] = {}
        for key, value in (
            ("width", req.width),
            ("height", req.height),
            ("num_inference_steps", req.steps),
            ("guidance_scale", req.guidance),
            ("negative_prompt", req.negative_prompt),
        ):
            if value is not None:
                parameters[key] = value
        parameters.update(self.parameters)
        batches = request_batches(req, self.images_per_request, seeded=bool(self.seed_key))
        record: dict[str, object] = {
            "backend": "vertex-endpoint",
            "endpoint": self.resource,
            **{key: value for key, value in parameters.items()},
        }
        images: list[GeneratedImage] = []
        for count, seed in batches:
            body_parameters = dict(parameters)
            if seed is not None and self.seed_key:
                body_parameters[self.seed_key] = seed
            body = {"instances": [{self.prompt_key: req.prompt}] * count, "parameters": body_parameters}
            data = self.client.json("POST", f"/v1/{self.resource}:predict", json_body=body)
            for image, deployed in self._images(data, count):
                params = {**record, "deployed_model_id": deployed} if deployed else record
                images.append(GeneratedImage(data=image, seed=seed, params=params))
        return images

    def _images(self, data: object, count: int) -> list[tuple[bytes, str | None]]:
        predictions = data.get("predictions") if isinstance(data, dict) else None
        if not isinstance(predictions, list) or not predictions:
            raise GeneratorError(f"{self.where}: the endpoint answered without predictions")
        deployed = data.get("deployedModelId") if isinstance(data, dict) else None
        deployed_id = str(deployed) if deployed else None
        out: list[tuple[bytes, str | None]] = []
        for index, item in enumerate(predictions):
            what = f"{self.where}: prediction {index + 1}"
            if isinstance(item, dict):
                reason = item.get("raiFilteredReason")
                if reason:
                    raise GenerationRefused(
                        f"{self.where}: the endpoint refused the prompt (safety block): {self.client.redact(str(reason))}"
                    )
                value = next((item[key] for key in IMAGE_KEYS if isinstance(item.get(key), str)), None)
                if value is None:
                    raise GeneratorError(
                        f"{what} holds no image (expected a base64 string under one of {', '.join(IMAGE_KEYS)})"
                    )
                item = value
            out.append((decode_base64(item, what), deployed_id))
        if len(out) != count:
            raise GeneratorError(
                f"{self.where}: asked for {count} image(s), the endpoint answered {len(out)}"
            )
        return out
