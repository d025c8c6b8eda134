"""The AI ops, ``xai.*`` (SPEC §14), and their older names (``baseai.*``, ``genai.*``).

Each body is closed and decodes into a ``Prompt``: the user's text and the
``Task`` (``pgcube.ai.tasks``) that says what to ask of the chat model and how
to read its answer. ``xai.vectorize`` runs the §13 embedder instead, so it
works offline. The input is judged before anything else (a bad body is a 400
whatever the server's configuration), then the caller's database (404 like
every op), then whether a provider is configured (501 ``AI_NOT_CONFIGURED``).

A model call may take seconds: the op gives its pooled connection back before
it calls (RELIABILITY I4), as the direct upload does before the bytes stream.

Credentials: the account, server keys and signed-in end users. A web key
without an end user is refused (403): an AI call costs the account money, and
an anonymous page must not be able to spend it (ADR 0024).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec

from pgcube.ai import tasks
from pgcube.ai.tasks import Task
from pgcube.errors import AiNotConfigured, PayloadTooLarge, ValidationError, missing_field
from pgcube.management.service import resolve_database
from pgcube.ops.registry import Answer, Body, Context, Op, PrincipalKind, Tx, as_is

PRINCIPALS = frozenset({PrincipalKind.ACCOUNT, PrincipalKind.SERVER_KEY, PrincipalKind.END_USER})
MAX_INPUT_CHARS = 32_000
"""The longest ``user_input`` (each text, for ``xai.vectorize``): 413 above."""
MAX_VECTORIZE_TEXTS = 1000
MAX_LABELS = 50
"""Categories of ``xai.classify``, entities of ``xai.extract``."""

Words = Annotated[int, msgspec.Meta(ge=1, le=tasks.MAX_CONTENT_WORDS)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Labels = Annotated[list[Label], msgspec.Meta(min_length=1, max_length=MAX_LABELS)]
Style = Annotated[str, msgspec.Meta(max_length=200)]
Instructions = Annotated[str, msgspec.Meta(max_length=2000)]
Language = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

B = TypeVar("B", bound=Body)


def not_configured() -> AiNotConfigured:
    return AiNotConfigured(
        "No AI provider is configured on this server: set PGCUBE_AI_BASE_URL (an OpenAI-compatible "
        "API such as OpenAI, Ollama or a llama.cpp server) and PGCUBE_AI_MODEL",
        details={"settings": ["PGCUBE_AI_BASE_URL", "PGCUBE_AI_MODEL", "PGCUBE_AI_API_KEY"]},
    )


@dataclass(frozen=True)
class Prompt:
    text: str
    task: Callable[[int], Task]
    """The task, given the most output tokens the server allows (``ai_max_output_tokens``)."""


# --- the input, wherever it came ---------------------------------------------------------------


def unwrapped(body: B) -> B:
    """``body``, or the body its older ``data`` wrapper holds (``data: {user_input, options}``):
    the same keys, judged the same way; not both."""
    data: dict[str, Any] | None = getattr(body, "data", None)
    if data is None:
        return body
    sent = [name for name in body.__struct_fields__ if name not in ("op", "action", "data")]
    both = next((name for name in sent if getattr(body, name) is not None), None)
    if both is not None:
        raise ValidationError(
            f"Send the input once: {both} at the top or inside data, not both", details={"field": both}
        )
    try:
        inner = msgspec.convert(data, type(body))
    except msgspec.ValidationError as exc:
        raise _in_data(str(exc)) from None
    for name in ("op", "action", "data"):
        if getattr(inner, name, None) is not None:
            raise ValidationError(f"data does not take {name}", details={"field": f"data.{name}"})
    return inner


_UNKNOWN_FIELD = re.compile(
    r"Object contains unknown field `(?P<field>[^`]+)`(?: - at `\$\.?(?P<path>[^`]*)`)?$"
)
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def _in_data(message: str) -> ValidationError:
    """msgspec's complaint about the ``data`` wrapper, with paths from the body's top."""
    unknown = _UNKNOWN_FIELD.match(message)
    if unknown:
        field = ".".join(part for part in ("data", unknown.group("path"), unknown.group("field")) if part)
        return ValidationError(
            f"{field.rpartition('.')[0]} does not take {unknown.group('field')}", details={"field": field}
        )
    at = _AT.search(message)
    path = ".".join(part for part in ("data", at.group("path") if at else "") if part)
    return ValidationError(
        _AT.sub(f" - at `$.{path}`", message) if at else f"{message} - at `$.data`", details={"field": path}
    )


def one_input(user_input: str | None, prompt: str | None) -> str:
    """The text of ``user_input`` or of its alias ``prompt``: one of them, not empty, not too long."""
    if user_input is not None and prompt is not None:
        raise ValidationError("Send the text once: user_input or prompt", details={"field": "prompt"})
    text = user_input if user_input is not None else prompt
    if text is None or not text.strip():
        raise missing_field("user_input")
    return checked_length(text, "user_input")


def checked_length(text: str, field: str) -> str:
    if len(text) > MAX_INPUT_CHARS:
        raise PayloadTooLarge(
            f"{field} is {len(text)} characters long; at most {MAX_INPUT_CHARS} are taken",
            details={"field": field, "limit": MAX_INPUT_CHARS, "length": len(text)},
        )
    return text


def labels(values: list[str], field: str) -> list[str]:
    """Names of categories or entities: none blank; a name sent twice counts once."""
    for index, value in enumerate(values):
        if not value.strip():
            raise ValidationError(f"{field}[{index}] is blank", details={"field": f"{field}[{index}]"})
    return list(dict.fromkeys(value.strip() for value in values))


def required_option(options: msgspec.Struct | None, name: str) -> Any:
    """``options.<name>``, which the op cannot do without."""
    value = getattr(options, name, None) if options is not None else None
    if value is None:
        raise missing_field(f"options.{name}")
    return value


# --- bodies --------------------------------------------------------------------------------------


class _Options(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class GenerateOptions(_Options):
    content_length: Words | None = None
    """Words, about: the model's ``max_tokens`` follows from it."""
    content_style: Style | None = None
    custom_instructions: Instructions | None = None


class SummarizeOptions(_Options):
    content_length: Words | None = None


# The options an op needs are optional here and required by the op's ``command``: a missing one
# is then named by its path (``options.target_language``), whether ``options`` came or not.
class TranslateOptions(_Options):
    target_language: Language | None = None


class ClassifyOptions(_Options):
    categories: Labels | None = None


class ExtractOptions(_Options):
    entities: Labels | None = None


class _TextBody(Body):
    user_input: str | None = None
    prompt: str | None = None
    """``user_input``'s other name."""
    data: dict[str, Any] | None = None
    """The older wrapper: ``{user_input, options}`` inside ``data``."""

    def text(self) -> str:
        return one_input(self.user_input, self.prompt)


class GenerateBody(_TextBody):
    """Text written from ``user_input`` (or ``prompt``), about ``options.content_length`` words."""

    options: GenerateOptions | None = None

    def command(self) -> Prompt:
        body = unwrapped(self)
        options = body.options or GenerateOptions()
        style = (options.content_style or "").strip() or None
        instructions = (options.custom_instructions or "").strip() or None
        return Prompt(
            body.text(), lambda cap: tasks.generate(options.content_length, style, instructions, cap)
        )


class SummarizeBody(_TextBody):
    """A summary of ``user_input``, about ``options.content_length`` words."""

    options: SummarizeOptions | None = None

    def command(self) -> Prompt:
        body = unwrapped(self)
        words = body.options.content_length if body.options else None
        return Prompt(body.text(), lambda cap: tasks.summarize(words, cap))


class TranslateBody(_TextBody):
    """``user_input`` translated into ``options.target_language``."""

    options: TranslateOptions | None = None

    def command(self) -> Prompt:
        body = unwrapped(self)
        language = required_option(body.options, "target_language").strip()
        if not language:
            raise missing_field("options.target_language")
        return Prompt(body.text(), lambda cap: tasks.translate(language, cap))


class ClassifyBody(_TextBody):
    """The one of ``options.categories`` that fits ``user_input``."""

    options: ClassifyOptions | None = None

    def command(self) -> Prompt:
        body = unwrapped(self)
        categories = labels(required_option(body.options, "categories"), "options.categories")
        return Prompt(body.text(), lambda cap: tasks.classify(categories, cap))


class SentimentBody(_TextBody):
    """``user_input``'s sentiment: ``{label, score}``, the score from -1 to 1."""

    def command(self) -> Prompt:
        return Prompt(unwrapped(self).text(), tasks.sentiment)


class ExtractBody(_TextBody):
    """The ``options.entities`` found in ``user_input``: a list of strings by entity."""

    options: ExtractOptions | None = None

    def command(self) -> Prompt:
        body = unwrapped(self)
        entities = labels(required_option(body.options, "entities"), "options.entities")
        return Prompt(body.text(), lambda cap: tasks.extract(entities, cap))


class VectorizeBody(Body):
    """One unit vector per text of ``user_input`` (a text or a list), from the server's embedder."""

    user_input: str | list[str] | None = None
    """One text, or a list of up to ``MAX_VECTORIZE_TEXTS``: one vector each, in order."""
    prompt: str | list[str] | None = None
    data: dict[str, Any] | None = None

    def command(self) -> list[str]:
        body = unwrapped(self)
        if body.user_input is not None and body.prompt is not None:
            raise ValidationError("Send the text once: user_input or prompt", details={"field": "prompt"})
        sent = body.user_input if body.user_input is not None else body.prompt
        if sent is None:
            raise missing_field("user_input")
        texts = [sent] if isinstance(sent, str) else sent
        if not texts:
            raise ValidationError(
                "user_input is an empty list: send a text or a list of texts", details={"field": "user_input"}
            )
        if len(texts) > MAX_VECTORIZE_TEXTS:
            raise ValidationError(
                f"At most {MAX_VECTORIZE_TEXTS} texts in one call; {len(texts)} were sent",
                details={"field": "user_input", "limit": MAX_VECTORIZE_TEXTS},
            )
        for index, text in enumerate(texts):
            field = "user_input" if isinstance(sent, str) else f"user_input[{index}]"
            if not text.strip():
                raise ValidationError(
                    f"{field} is empty: there is nothing to embed", details={"field": field}
                )
            checked_length(text, field)
        return texts


# --- handlers ------------------------------------------------------------------------------------


async def admit(ctx: Context) -> None:
    """The caller may reach the path's database (404 like every op), then the request's
    connection goes back to the pool: what follows is a model call (RELIABILITY I4)."""
    await resolve_database(ctx.session, ctx.principal, ctx.database_id)
    await ctx.session.close()


async def complete(ctx: Context, prompt: Prompt) -> Answer:
    await admit(ctx)
    chat = ctx.models.chat
    if chat is None:
        raise not_configured()
    task = prompt.task(ctx.settings.ai_max_output_tokens)
    started = time.perf_counter()
    completion = await chat.complete(task.system, prompt.text, task.max_tokens, temperature=task.temperature)
    elapsed = _milliseconds_since(started)
    meta = {"model": completion.model, "usage": completion.usage, "generation_time_ms": elapsed}
    return Answer({"output": task.read(completion.text)}, meta)


async def vectorize(ctx: Context, texts: list[str]) -> Answer:
    await admit(ctx)
    embedder = ctx.models.embedder
    started = time.perf_counter()
    vectors = await embedder.embed(texts)
    meta = {"model": embedder.name, "usage": {}, "generation_time_ms": _milliseconds_since(started)}
    return Answer({"output": vectors}, meta)


def _milliseconds_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _op(
    name: str, summary: str, body: type[Body], *aliases: str, example: dict[str, Any] | None = None
) -> Op[Any, Any]:
    return Op(
        name=name,
        summary=summary,
        body=body,
        handler=vectorize if body is VectorizeBody else complete,
        present=as_is,
        # READ: the database is looked up (and the look-up retried on a lost connection); the
        # connection is given back before the model is called.
        tx=Tx.READ,
        aliases=dict.fromkeys(aliases, body),
        principals=PRINCIPALS,
        example=example,
    )


OPS = (
    _op(
        "xai.generate",
        "Write text from a prompt (options: content_length in words, content_style, custom_instructions)",
        GenerateBody,
        "baseai.write",
        "genai.generate",
        "genai.gentext",
        example={
            "op": "xai.generate",
            "user_input": "Write a product description for wireless headphones",
            "options": {"content_length": 200, "content_style": "marketing"},
        },
    ),
    _op(
        "xai.summarize",
        "Summarize a text (options.content_length in words)",
        SummarizeBody,
        "baseai.summarize",
        "genai.summarize",
    ),
    _op(
        "xai.translate",
        "Translate a text into options.target_language",
        TranslateBody,
        "baseai.translate",
        example={
            "op": "xai.translate",
            "user_input": "Good morning",
            "options": {"target_language": "French"},
        },
    ),
    _op(
        "xai.classify",
        "The one of options.categories that fits a text",
        ClassifyBody,
        "baseai.categorize",
        example={
            "op": "xai.classify",
            "user_input": "The match went to penalties",
            "options": {"categories": ["sports", "politics", "science"]},
        },
    ),
    _op(
        "xai.sentiment",
        "A text's sentiment: label (positive, negative or neutral) and score from -1 to 1",
        SentimentBody,
        "baseai.analyze_sentiment",
    ),
    _op(
        "xai.extract",
        "The options.entities found in a text, as lists of strings by entity",
        ExtractBody,
        "baseai.extract_entities",
        example={
            "op": "xai.extract",
            "user_input": "Ada Lovelace met Charles Babbage in London",
            "options": {"entities": ["person", "place"]},
        },
    ),
    _op(
        "xai.vectorize",
        "Embed a text or a list of texts with the server's embedder (works offline)",
        VectorizeBody,
        "baseai.vectorize_content",
        example={"op": "xai.vectorize", "user_input": ["first text", "second text"]},
    ),
)
