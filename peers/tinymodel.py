"""Write a tiny llama-architecture GGUF model: readable words out, no download, a few hundred KB.

Run with the llama-cpp peer's own Python (it has numpy and gguf):

    .peers/llama-cpp/venv/bin/python peers/tinymodel.py OUT.gguf [--seed 1234]

The weights are random but seeded, so the same seed writes the same file. The vocabulary is a few
dozen English words (SentencePiece-style, "▁word"), the three control tokens and the 256 byte
tokens (so any prompt tokenizes). llama's output head has no bias tensor, so the bias is built in:
dimension 0 of every token embedding is a constant, which survives the tiny layers and the final
RMS norm as a constant feature, and column 0 of the output head maps it to a bias per token. Words
get bias 0, the end token a small negative bias (so it ends replies now and then), and the byte and
control tokens a huge negative one (never emitted: every reply is readable words).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import gguf

WORDS = """alpha beta gamma delta epsilon zeta eta theta one two three four five six seven eight
nine ten repeat exactly nothing else the a an and of to is it in on at yes no ok hello world
answer question city paris london weather sunny rain cold warm blue green red small big cat dog
tree river stone light dark fast slow day night sun moon star book word time good new old""".split()
PUNCT = [".", ",", "!", "?"]

N_EMBD, N_HEAD, N_LAYER, N_FF, N_CTX = 64, 4, 2, 128, 2048
EOS_BIAS = 1.5  # in logits: greedy replies end after a few words for some prompts, run to the cap for others
HEAD_SCALE = 0.25  # the context-dependent part of the output head
LAYER_SCALE = 0.05  # small layers: the residual stream stays close to the token embedding
BANNED_BIAS = -40.0

# A plain chat template: "role: content" lines, then "assistant:". No special markup, so the
# prompt tokenizes into bytes and words the vocabulary has.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['role'] }}: "
    "{% if message['content'] is string %}{{ message['content'] }}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    tokens += ["\u2581" + w for w in WORDS] + PUNCT
    types += [gguf.TokenType.NORMAL] * (len(WORDS) + len(PUNCT))
    scores = [0.0] * len(tokens)
    return tokens, scores, [int(t) for t in types]


def write(path: Path, seed: int = 1234) -> Path:
    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)

    def normal(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    embd = normal(n_vocab, N_EMBD, scale=0.3)
    embd[:, 0] = 4.0  # the constant feature that carries the output bias
    bias = np.zeros(n_vocab, dtype=np.float32)
    bias[:3 + 256] = BANNED_BIAS
    bias[2] = EOS_BIAS
    # after the final RMS norm the constant feature is about 4 / rms(embedding row)
    feature = 4.0 / np.sqrt((16.0 + 0.09 * (N_EMBD - 1)) / N_EMBD)
    output = normal(n_vocab, N_EMBD, scale=HEAD_SCALE)
    output[:, 0] = bias / feature

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("chatconform-tiny")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    writer.add_tensor("token_embd.weight", embd)
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", normal(N_EMBD, N_EMBD, scale=LAYER_SCALE))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", normal(N_FF, N_EMBD, scale=LAYER_SCALE))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", normal(N_FF, N_EMBD, scale=LAYER_SCALE))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", normal(N_EMBD, N_FF, scale=LAYER_SCALE))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    write(args.out, args.seed)
    print(args.out)


if __name__ == "__main__":
    main()
