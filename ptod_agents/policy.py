"""A dialogue policy over any transformers causal LM with a chat template.

A turn is a *prompt* (the view text rendered through the chat template with the generation
prompt) followed by a *completion* (the utterance's tokens and the end-of-turn token). Batches use
one layout everywhere, so sampling and scoring see the same positions:

    [pad … pad | prompt tokens | completion tokens | pad … pad]
                 left-padded     starts at column P  right-padded

Position ids count real tokens only, so a padded row computes exactly what it would alone. The
agent-token mask is built from the completion lengths (by position, never by token id) and keeps
the end-of-turn token.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import torch
from torch import Tensor

from ptod_agents.prompts import render_prompt
from ptod_env.evaluation import env_id_for


@dataclass
class Sample:
    """One sampled completion: its token ids (end-of-turn token included when produced) and the
    policy's log-probability of each token."""

    tokens: list[int]
    logprobs: list[float]


class Scores(NamedTuple):
    """What a policy's ``score`` returns: (B, T, V) logits predicting each completion token,
    the (B, T) completion tokens and the (B, T) agent-token mask."""

    logits: Tensor
    targets: Tensor
    mask: Tensor


@dataclass
class CompletionBatch:
    """Prompts and completions packed in the shared layout (see the module docstring).

    Attributes:
        input_ids: (B, P + T) token ids.
        attention_mask: (B, P + T) 1 on real tokens.
        position_ids: (B, P + T) index of each real token within its row.
        targets: (B, T) completion token ids (pad after each row's end).
        mask: (B, T) 1.0 on agent tokens, 0.0 on padding.
    """

    input_ids: Tensor
    attention_mask: Tensor
    position_ids: Tensor
    targets: Tensor
    mask: Tensor


def pack_completions(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int):
    """Pack ``prompts`` (left-padded) and ``completions`` (right-padded) into a
    :class:`CompletionBatch`. Every completion must hold at least one token."""
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    if any(len(c) == 0 for c in completions):
        raise ValueError("every completion needs at least one token (the end-of-turn token counts)")
    width_p = max(len(p) for p in prompts)
    width_t = max(len(c) for c in completions)
    rows, masks = [], []
    for p, c in zip(prompts, completions, strict=True):
        rows.append([pad_id] * (width_p - len(p)) + list(p) + list(c) + [pad_id] * (width_t - len(c)))
        masks.append([0] * (width_p - len(p)) + [1] * (len(p) + len(c)) + [0] * (width_t - len(c)))
    input_ids = torch.tensor(rows, dtype=torch.long)
    attention_mask = torch.tensor(masks, dtype=torch.long)
    lengths = torch.tensor([len(c) for c in completions])
    return CompletionBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=(attention_mask.cumsum(-1) - 1).clamp(min=0),
        targets=input_ids[:, width_p:],
        mask=(torch.arange(width_t)[None, :] < lengths[:, None]).float(),
    )


def completion_logits(model, batch: CompletionBatch) -> Tensor:
    """(B, T, V) float logits predicting each completion token (row b, column t predicts
    ``batch.targets[b, t]``). Only the last T + 1 positions go through the LM head."""
    width_t = batch.targets.shape[1]
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
        logits_to_keep=width_t + 1,
    )
    return out.logits[:, :width_t].float()


def token_logprobs(logits: Tensor, targets: Tensor) -> Tensor:
    """(B, T) log-probability of ``targets`` (B, T) under ``logits`` (B, T, V)."""
    return torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None]).squeeze(-1)


class TextPolicy:
    """What every policy that speaks text shares: it plays the text env, and its context of a
    turn is the view (:func:`ptod_agents.prompts.render_prompt`) as :meth:`prompt_ids` encodes it."""

    def make_env(self, domain: str, split: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
        """A text env of ``domain`` on ``split``."""
        return gym.make(env_id_for(domain), split=split, **(env_kwargs or {}))

    def context(
        self,
        observation: str,
        info: Mapping[str, Any] | None,
        view: str,
        concerns: Sequence[Mapping[str, Any]] | None,
        history_turns: int,
    ) -> Any:
        """``observation`` in ``view``, encoded by :meth:`prompt_ids`."""
        return self.prompt_ids(render_prompt(observation, view, concerns, history_turns))

    def prompt_ids(self, text: str) -> Any:
        raise NotImplementedError


class Policy(TextPolicy):
    """A causal LM and its tokenizer, speaking one utterance per turn.

    The learners see every policy through the same methods (:class:`ptod_agents.acts.ActPolicy`
    has them too): ``make_env``, ``context`` (a view of one observation: here prompt token ids),
    ``sample``, ``action`` (the env action of a sample: here the decoded utterance), ``score``
    (logits of completions under a model: the policy's own or a teacher/reference copy) and
    ``save``.

    Args:
        model: a transformers causal LM (``AutoModelForCausalLM``).
        tokenizer: its tokenizer; must have a chat template.
        max_prompt_tokens: prompts longer than this keep their last ``max_prompt_tokens`` tokens.
    """

    kind = "lm"

    def __init__(self, model, tokenizer, max_prompt_tokens: int = 2048):
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("the tokenizer has no chat template; use an instruct/chat model or a ptod preset")
        self.model = model
        self.tokenizer = tokenizer
        self.max_prompt_tokens = max_prompt_tokens
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        ends = model.generation_config.eos_token_id
        ends = [ends] if isinstance(ends, int) else list(ends or [])
        self.end_ids = sorted({tokenizer.eos_token_id, *ends} - {None})
        self.end_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else self.end_ids[0]
        self.sample_seconds = 0.0
        """Wall time spent in :meth:`sample` so far (the benchmark's generation share)."""

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs) -> Policy:
        """Load a Hugging Face model directory (a ptod checkpoint or any chat causal LM)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging

        logging.disable_progress_bar()
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        return cls(model, tokenizer, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (safetensors) and tokenizer as a Hugging Face model directory."""
        Path(path).mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def action(self, sample: Sample) -> str:
        """The utterance a sampled completion spells."""
        return self.decode(sample.tokens)

    def score(self, contexts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], model=None) -> Scores:
        """Logits of ``completions`` after ``contexts`` under ``model`` (default: the policy's own)."""
        batch = pack_completions(contexts, completions, self.pad_id)
        return Scores(completion_logits(model or self.model, batch), batch.targets, batch.mask)

    def prompt_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` as the user message, with the assistant generation prompt."""
        chat = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
        ids = self.tokenizer.encode(chat, add_special_tokens=False)
        return ids[-self.max_prompt_tokens :]

    def completion_ids(self, utterance: str) -> list[int]:
        """Token ids of ``utterance`` as a completion: its tokens and the end-of-turn token."""
        return [*self.tokenizer.encode(utterance, add_special_tokens=False), self.end_id]

    def decode(self, tokens: Sequence[int]) -> str:
        """The utterance a completion spells (stops at the first end-of-turn token)."""
        ends = set(self.end_ids)
        cut = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
        return self.tokenizer.decode(list(tokens[:cut]), skip_special_tokens=True).strip()

    @torch.no_grad()
    def sample(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, temperature: float = 1.0) -> list[Sample]:
        """Sample one completion per prompt, batched, reusing the KV cache between tokens.

        Tokens are drawn from softmax(logits / temperature) and the recorded log-probabilities are
        of that distribution, the behaviour policy (the learners score with the same temperature).
        A row stops at its first end-of-turn token or after ``max_new_tokens``.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        start = time.perf_counter()
        self.model.eval()
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[self.pad_id] * (width - len(p)) + list(p) for p in prompts], dtype=torch.long)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=True, logits_to_keep=1
        )
        ends = torch.tensor(self.end_ids)
        done = torch.zeros(len(prompts), dtype=torch.bool)
        next_position = positions[:, -1:] + 1
        tokens, logprobs = [], []
        for _ in range(max_new_tokens):
            logits = out.logits[:, -1].float()
            logp = torch.log_softmax(logits / temperature, dim=-1)
            token = torch.multinomial(logp.exp(), 1)
            tokens.append(torch.where(done[:, None], self.pad_id, token))
            logprobs.append(logp.gather(-1, token))
            done = done | torch.isin(token[:, 0], ends)
            if bool(done.all()):
                break
            attention = torch.cat([attention, torch.ones_like(token)], dim=1)
            out = self.model(
                input_ids=tokens[-1],
                attention_mask=attention,
                position_ids=next_position,
                past_key_values=out.past_key_values,
                use_cache=True,
            )
            next_position = next_position + 1
        token_rows = torch.cat(tokens, dim=1).tolist()
        logprob_rows = torch.cat(logprobs, dim=1).tolist()
        samples = []
        end_set = set(self.end_ids)
        for row, lp in zip(token_rows, logprob_rows, strict=True):
            cut = next((i + 1 for i, t in enumerate(row) if t in end_set), len(row))
            samples.append(Sample(tokens=row[:cut], logprobs=lp[:cut]))
        self.sample_seconds += time.perf_counter() - start
        return samples
