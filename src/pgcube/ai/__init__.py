"""Models behind the vector and AI ops (SPEC §13, §14): embedders and a chat model.

Everything here speaks to a model, never to PostgreSQL: the ops give their
connection back before they call in (RELIABILITY I4). ``runtime.AiRuntime`` is
the process's set, opened at startup from the settings.
"""
