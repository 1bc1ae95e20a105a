"""Golden outputs of the transformer families compress loads from Hugging Face folders and timm checkpoints.

Reference forwards written here in PyTorch, function by function, from the published modeling code
(transformers v4.x: models/bert/modeling_bert.py, models/gpt2/modeling_gpt2.py, models/llama/modeling_llama.py,
models/qwen2/modeling_qwen2.py, models/mistral/modeling_mistral.py with modeling_rope_utils.py; timm:
models/vision_transformer.py and models/deit.py), in eager float32 as those files compute. `transformers` and `timm`
are not installable on the development machine (Debian ships neither); PyTorch is Debian's python3-torch 1.13.1.

Run: /usr/bin/python3 tests/Golden/make_architecture_golden.py  (writes tests/Golden/architecture_golden.safetensors)

For each family F the file holds the weights exactly as the ecosystem saves them (`F.w.<name>`, e.g. GPT-2's Conv1D
weights as [in, out] and its causal-mask buffers), the inputs (`F.in.<name>`) and the outputs (`F.out.<name>`); the
metadata holds each family's config.json text (`F.config`).
"""
import json, math, os, struct
import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "architecture_golden.safetensors")
tensors, metadata = {}, {"producer": "tests/Golden/make_architecture_golden.py", "torch": torch.__version__}


def rnd(*shape, std=0.2):
    return torch.randn(*shape) * std


def put(family, config, weights, inputs, outputs):
    metadata[f"{family}.config"] = json.dumps(config, sort_keys=True)
    for k, v in weights.items(): tensors[f"{family}.w.{k}"] = v
    for k, v in inputs.items(): tensors[f"{family}.in.{k}"] = v
    for k, v in outputs.items(): tensors[f"{family}.out.{k}"] = v


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


# ---------------------------------------------------------------- BERT (BertModel, eager attention)
def bert():
    c = dict(model_type="bert", vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu", position_embedding_type="absolute")
    H, L, nh, I = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"], c["intermediate_size"]
    w = {"embeddings.word_embeddings.weight": rnd(99, H), "embeddings.position_embeddings.weight": rnd(40, H),
         "embeddings.token_type_embeddings.weight": rnd(2, H), "embeddings.LayerNorm.weight": 1 + rnd(H, std=0.1),
         "embeddings.LayerNorm.bias": rnd(H, std=0.1)}
    for i in range(L):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[p + n + ".weight"] = rnd(H, H); w[p + n + ".bias"] = rnd(H, std=0.05)
        w[p + "attention.output.LayerNorm.weight"] = 1 + rnd(H, std=0.1); w[p + "attention.output.LayerNorm.bias"] = rnd(H, std=0.1)
        w[p + "intermediate.dense.weight"] = rnd(I, H); w[p + "intermediate.dense.bias"] = rnd(I, std=0.05)
        w[p + "output.dense.weight"] = rnd(H, I); w[p + "output.dense.bias"] = rnd(H, std=0.05)
        w[p + "output.LayerNorm.weight"] = 1 + rnd(H, std=0.1); w[p + "output.LayerNorm.bias"] = rnd(H, std=0.1)
    w["pooler.dense.weight"] = rnd(H, H); w["pooler.dense.bias"] = rnd(H, std=0.05)
    ids = torch.randint(1, 99, (2, 7)); ids[1, 5:] = 0
    mask = torch.ones(2, 7, dtype=torch.int64); mask[1, 5:] = 0
    types = torch.zeros(2, 7, dtype=torch.int64); types[0, 4:] = 1
    # BertEmbeddings.forward
    pos = torch.arange(7).unsqueeze(0)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types] + w["embeddings.position_embeddings.weight"][pos]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], c["layer_norm_eps"])
    # get_extended_attention_mask: (1 - mask) * finfo.min, [B, 1, 1, T]
    ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    d = H // nh
    for i in range(L):
        p = f"encoder.layer.{i}."
        lin = lambda t, n: F.linear(t, w[p + n + ".weight"], w[p + n + ".bias"])
        split = lambda t: t.view(2, 7, nh, d).permute(0, 2, 1, 3)
        q, k, v = split(lin(x, "attention.self.query")), split(lin(x, "attention.self.key")), split(lin(x, "attention.self.value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
        ctx = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(2, 7, H)
        a = layer_norm(lin(ctx, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], c["layer_norm_eps"])
        h = F.gelu(lin(a, "intermediate.dense"))
        x = layer_norm(lin(h, "output.dense") + a, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], c["layer_norm_eps"])
    pooled = torch.tanh(F.linear(x[:, 0], w["pooler.dense.weight"], w["pooler.dense.bias"]))
    put("bert", c, w, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}, {"last_hidden_state": x, "pooler_output": pooled})


# ---------------------------------------------------------------- GPT-2 (GPT2Model names, Conv1D, tied head)
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2():
    c = dict(model_type="gpt2", vocab_size=101, n_positions=32, n_embd=32, n_layer=2, n_head=4, n_inner=None,
             layer_norm_epsilon=1e-5, activation_function="gelu_new")
    D, L, nh, T = 32, 2, 4, 9
    w = {"wte.weight": rnd(101, D), "wpe.weight": rnd(32, D), "ln_f.weight": 1 + rnd(D, std=0.1), "ln_f.bias": rnd(D, std=0.1)}
    for i in range(L):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1 + rnd(D, std=0.1); w[p + "ln_1.bias"] = rnd(D, std=0.1)
        w[p + "attn.c_attn.weight"] = rnd(D, 3 * D); w[p + "attn.c_attn.bias"] = rnd(3 * D, std=0.05)   # Conv1D: [in, out]
        w[p + "attn.c_proj.weight"] = rnd(D, D); w[p + "attn.c_proj.bias"] = rnd(D, std=0.05)
        w[p + "ln_2.weight"] = 1 + rnd(D, std=0.1); w[p + "ln_2.bias"] = rnd(D, std=0.1)
        w[p + "mlp.c_fc.weight"] = rnd(D, 4 * D); w[p + "mlp.c_fc.bias"] = rnd(4 * D, std=0.05)
        w[p + "mlp.c_proj.weight"] = rnd(4 * D, D); w[p + "mlp.c_proj.bias"] = rnd(D, std=0.05)
        w[p + "attn.bias"] = torch.tril(torch.ones(32, 32, dtype=torch.bool)).view(1, 1, 32, 32)   # older files keep the mask
    ids = torch.randint(0, 101, (2, T))
    conv1d = lambda t, n: torch.addmm(w[n + ".bias"], t.reshape(-1, t.shape[-1]), w[n + ".weight"]).view(*t.shape[:-1], -1)
    x = w["wte.weight"][ids] + w["wpe.weight"][torch.arange(T)]
    d = D // nh
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(L):
        p = f"h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        q, k, v = conv1d(h, p + "attn.c_attn").split(D, dim=2)
        split = lambda t: t.view(2, T, nh, d).permute(0, 2, 1, 3)
        q, k, v = split(q), split(k), split(v)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min))
        o = torch.matmul(F.softmax(att, dim=-1), v).permute(0, 2, 1, 3).reshape(2, T, D)
        x = x + conv1d(o, p + "attn.c_proj")
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        x = x + conv1d(gelu_new(conv1d(h, p + "mlp.c_fc")), p + "mlp.c_proj")
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], 1e-5)
    logits = x @ w["wte.weight"].t()
    put("gpt2", c, w, {"input_ids": ids}, {"logits": logits})


# ---------------------------------------------------------------- Llama family (LlamaForCausalLM / Qwen2 / Mistral)
def rope_inv_freq(c, head_dim):
    base = c.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    s = c.get("rope_scaling")
    if s is None: return inv
    t = s.get("rope_type", s.get("type"))
    if t == "linear": return inv / s["factor"]
    if t == "llama3":   # modeling_rope_utils._compute_llama3_parameters
        factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
        return torch.where(medium, smoothed, inv_l)
    raise ValueError(t)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rms(x, w, eps):
    v = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(v + eps))


def llama_like(family, c, T, qkv_bias=False, o_bias=False):
    D, L, nh, kv, I, V = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"], c["vocab_size"]
    hd = c.get("head_dim") or D // nh
    tied = c.get("tie_word_embeddings", False)
    w = {"model.embed_tokens.weight": rnd(V, D), "model.norm.weight": 1 + rnd(D, std=0.1)}
    for i in range(L):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + rnd(D, std=0.1); w[p + "post_attention_layernorm.weight"] = 1 + rnd(D, std=0.1)
        for n, o, ii in (("q_proj", nh * hd, D), ("k_proj", kv * hd, D), ("v_proj", kv * hd, D), ("o_proj", D, nh * hd)):
            w[p + "self_attn." + n + ".weight"] = rnd(o, ii)
            if (qkv_bias and n != "o_proj") or (o_bias and n == "o_proj"): w[p + "self_attn." + n + ".bias"] = rnd(o, std=0.05)
        w[p + "mlp.gate_proj.weight"] = rnd(I, D); w[p + "mlp.up_proj.weight"] = rnd(I, D); w[p + "mlp.down_proj.weight"] = rnd(D, I)
    if not tied: w["lm_head.weight"] = rnd(V, D)
    ids = torch.randint(0, V, (2, T))
    lin = lambda t, n: F.linear(t, w[n + ".weight"], w.get(n + ".bias"))
    inv = rope_inv_freq(c, hd)
    pos = torch.arange(T)[None, :].float()
    freqs = (inv[None, :, None].float() @ pos[:, None, :]).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    win = c.get("sliding_window") if family == "mistral" else None
    if win: mask = mask.masked_fill(torch.arange(T)[None, :] <= torch.arange(T)[:, None] - win, torch.finfo(torch.float32).min)
    x = w["model.embed_tokens.weight"][ids]
    eps = c["rms_norm_eps"]
    for i in range(L):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(2, T, nh, hd).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(2, T, kv, hd).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(2, T, kv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k[:, :, None].expand(2, kv, nh // kv, T, hd).reshape(2, nh, T, hd)   # repeat_kv
        v = v[:, :, None].expand(2, kv, nh // kv, T, hd).reshape(2, nh, T, hd)
        att = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5 + mask
        att = F.softmax(att, dim=-1, dtype=torch.float32)
        o = torch.matmul(att, v).transpose(1, 2).reshape(2, T, nh * hd)
        x = x + lin(o, p + "self_attn.o_proj")
        h = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(F.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, w["model.norm.weight"], eps)
    logits = x @ (w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]).t()
    put(family, c, w, {"input_ids": ids}, {"logits": logits})


# ---------------------------------------------------------------- timm DeiT (distilled), VisionTransformer
def deit():
    img, P, C, D, depth, nh, R, K = 16, 4, 3, 48, 2, 3, 4, 5
    w = {"cls_token": rnd(1, 1, D), "dist_token": rnd(1, 1, D), "pos_embed": rnd(1, (img // P) ** 2 + 2, D),
         "patch_embed.proj.weight": rnd(D, C, P, P), "patch_embed.proj.bias": rnd(D, std=0.05),
         "norm.weight": 1 + rnd(D, std=0.1), "norm.bias": rnd(D, std=0.1), "head.weight": rnd(K, D), "head.bias": rnd(K, std=0.05),
         "head_dist.weight": rnd(K, D), "head_dist.bias": rnd(K, std=0.05)}
    for i in range(depth):
        p = f"blocks.{i}."
        w[p + "norm1.weight"] = 1 + rnd(D, std=0.1); w[p + "norm1.bias"] = rnd(D, std=0.1)
        w[p + "attn.qkv.weight"] = rnd(3 * D, D); w[p + "attn.qkv.bias"] = rnd(3 * D, std=0.05)
        w[p + "attn.proj.weight"] = rnd(D, D); w[p + "attn.proj.bias"] = rnd(D, std=0.05)
        w[p + "norm2.weight"] = 1 + rnd(D, std=0.1); w[p + "norm2.bias"] = rnd(D, std=0.1)
        w[p + "mlp.fc1.weight"] = rnd(R * D, D); w[p + "mlp.fc1.bias"] = rnd(R * D, std=0.05)
        w[p + "mlp.fc2.weight"] = rnd(D, R * D); w[p + "mlp.fc2.bias"] = rnd(D, std=0.05)
    x_img = torch.rand(2, C, img, img)
    x = F.conv2d(x_img, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"], stride=P).flatten(2).transpose(1, 2)
    x = torch.cat((w["cls_token"].expand(2, -1, -1), w["dist_token"].expand(2, -1, -1), x), dim=1) + w["pos_embed"]
    d = D // nh
    for i in range(depth):
        p = f"blocks.{i}."
        h = layer_norm(x, w[p + "norm1.weight"], w[p + "norm1.bias"], 1e-6)
        B, N, _ = h.shape
        qkv = F.linear(h, w[p + "attn.qkv.weight"], w[p + "attn.qkv.bias"]).reshape(B, N, 3, nh, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = ((q * d ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        x = x + F.linear((a @ v).transpose(1, 2).reshape(B, N, D), w[p + "attn.proj.weight"], w[p + "attn.proj.bias"])
        h = layer_norm(x, w[p + "norm2.weight"], w[p + "norm2.bias"], 1e-6)
        x = x + F.linear(F.gelu(F.linear(h, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"])), w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"])
    x = layer_norm(x, w["norm.weight"], w["norm.bias"], 1e-6)
    logits = (F.linear(x[:, 0], w["head.weight"], w["head.bias"]) + F.linear(x[:, 1], w["head_dist.weight"], w["head_dist.bias"])) / 2
    put("deit", {"architecture": "deit_tiny_distilled_patch4_16", "num_classes": K, "heads": nh}, w, {"images": x_img}, {"logits": logits})


bert()
gpt2()
llama_like("llama", dict(model_type="llama", vocab_size=97, hidden_size=48, num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
                          intermediate_size=80, rms_norm_eps=1e-5, rope_theta=500000.0, max_position_embeddings=64, tie_word_embeddings=False,
                          hidden_act="silu", rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                                               original_max_position_embeddings=16)), T=9)
llama_like("qwen2", dict(model_type="qwen2", vocab_size=89, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                          intermediate_size=64, rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=64, tie_word_embeddings=True,
                          hidden_act="silu", use_sliding_window=False), T=8, qkv_bias=True)
llama_like("mistral", dict(model_type="mistral", vocab_size=83, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            head_dim=16, intermediate_size=72, rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=64,
                            tie_word_embeddings=False, hidden_act="silu", sliding_window=4), T=9)
deit()


def save(path, tensors, metadata):   # the safetensors layout: u64 header length, JSON header, raw little-endian data
    names = sorted(tensors)
    dtypes = {torch.float32: ("F32", 4), torch.int64: ("I64", 8), torch.bool: ("BOOL", 1)}
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for n in names:
        t = tensors[n].contiguous()
        name, size = dtypes[t.dtype]
        data = t.numpy().tobytes()
        header[n] = {"dtype": name, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data); blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)


save(OUT, tensors, metadata)
print(f"wrote {OUT}: {len(tensors)} tensors")
