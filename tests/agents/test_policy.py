import torch

from ptod_agents.policy import Policy, completion_logits, pack_completions, token_logprobs


def test_pack_completions_layout_and_mask_by_position():
    batch = pack_completions([[5, 6, 7], [8]], [[1, 2], [3, 4, 9]], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 1, 2, 0], [0, 0, 8, 3, 4, 9]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1]]
    assert batch.position_ids[1].tolist()[2:] == [0, 1, 2, 3]
    assert batch.targets.tolist() == [[1, 2, 0], [3, 4, 9]]
    # The mask comes from lengths, not ids: a completion token equal to the pad id still counts.
    same_as_pad = pack_completions([[5]], [[0, 0]], pad_id=0)
    assert same_as_pad.mask.tolist() == [[1.0, 1.0]]
    assert batch.mask.tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]


def test_sampled_logprobs_match_scoring_and_keep_end_token(policy):
    prompts = [policy.prompt_ids("### Call brief\nhello\n\n### Conversation\nUser: Hi."), policy.prompt_ids("short")]
    samples = policy.sample(prompts, max_new_tokens=12)
    batch = pack_completions(prompts, [s.tokens for s in samples], policy.pad_id)
    with torch.no_grad():
        scored = token_logprobs(completion_logits(policy.model, batch), batch.targets)
    for row, sample in enumerate(samples):
        assert 1 <= len(sample.tokens) <= 12
        assert torch.allclose(scored[row, : len(sample.tokens)], torch.tensor(sample.logprobs), atol=1e-4)
        ends = [i for i, t in enumerate(sample.tokens) if t in policy.end_ids]
        assert ends in ([], [len(sample.tokens) - 1])  # stops at, and keeps, the end-of-turn token


def test_a_row_scores_the_same_alone_and_padded_in_a_batch(policy):
    prompts = [policy.prompt_ids("a much longer prompt with many more words in it"), policy.prompt_ids("hi")]
    completions = [policy.completion_ids("We pay weekly."), policy.completion_ids("Hello")]
    with torch.no_grad():
        both = pack_completions(prompts, completions, policy.pad_id)
        together = token_logprobs(completion_logits(policy.model, both), both.targets)
        alone = pack_completions(prompts[1:], completions[1:], policy.pad_id)
        single = token_logprobs(completion_logits(policy.model, alone), alone.targets)
    assert torch.allclose(together[1, : len(completions[1])], single[0], atol=1e-4)


def test_completion_ends_with_end_of_turn_and_decodes_back(policy):
    ids = policy.completion_ids("We cap the commission at fifteen percent.")
    assert ids[-1] == policy.end_id
    assert policy.decode([*ids, 5, 6]) == "We cap the commission at fifteen percent."
    prompt = policy.tokenizer.decode(policy.prompt_ids("hello"))
    assert prompt.startswith("<|im_start|>user\nhello<|im_end|>") and prompt.endswith("<|im_start|>assistant\n")


def test_save_and_load_round_trip(policy, tmp_path):
    policy.save(tmp_path / "p")
    assert (tmp_path / "p" / "model.safetensors").exists()
    again = Policy.load(tmp_path / "p")
    for a, b in zip(policy.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)
