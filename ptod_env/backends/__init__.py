"""Optional simulator backends that use language models.

``embedding`` understanding (a sentence-embedding model), ``llm`` understanding and ``llm``
speech, the chat clients they talk through (:mod:`ptod_env.backends.clients`), request batching
for many envs sharing one model (:mod:`ptod_env.backends.batching`), the ``ptod simcheck`` and
``ptod prepare-model`` commands. Nothing here is imported by ``import ptod_env``; every module
imports torch, transformers or vLLM only inside the code that needs them.
"""
