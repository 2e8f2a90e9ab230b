using System.Text.Json;
using StreamLoader.Device.Models.HuggingFace;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models.Llama;

/// <summary>
/// Llama checkpoints (<c>model_type</c> "llama"): Llama 2, Llama 3.x (1B–8B and the like), TinyLlama, for continued
/// pretraining with clm. RMSNorm, rotary embeddings (<c>rope_theta</c>; <c>rope_scaling</c> absent or "llama3"),
/// grouped-query attention, SwiGLU, tied or untied embeddings.
/// </summary>
public sealed class LlamaFamily : IPretrainedFamily
{
    public string Name => "llama";

    public IReadOnlyList<string> Architectures { get; } = ["LlamaForCausalLM", "LlamaModel"];

    public bool Decodes => true;

    public bool Reads(HuggingFaceConfig config) =>
        config.ModelType == "llama" && (config.Architecture.Length == 0 || Architectures.Contains(config.Architecture));

    public int MaxPositions(HuggingFaceConfig config) => LlamaConfig.From(config).MaxPositions;

    public int VocabularySize(HuggingFaceConfig config) => LlamaConfig.From(config).VocabularySize;

    public PretrainedSequenceClassifier CreateSequenceClassifier(HuggingFaceConfig config, int labels) =>
        throw new ArgumentException($"{config.Path}: {config.Describe()} is a decoder; classify and multilabel start from an encoder folder (bert, roberta, distilbert), clm from this one.");

    public PretrainedLanguageModel CreateCausalLanguageModel(HuggingFaceConfig config) => new LlamaForCausalLM(LlamaConfig.From(config));
}

/// <summary>Llama 3's frequency-dependent rotary scaling (<c>rope_scaling</c> with <c>rope_type</c> "llama3").</summary>
public sealed record Llama3RopeScaling(double Factor, double LowFrequencyFactor, double HighFrequencyFactor, int OriginalMaxPositions);

/// <summary>The fields of a Llama <c>config.json</c>, with <c>transformers</c>' defaults.</summary>
public sealed record LlamaConfig(int VocabularySize, int Hidden, int Intermediate, int Layers, int Heads, int KeyValueHeads, int HeadDim, int MaxPositions,
    double RmsNormEps, double RopeTheta, Llama3RopeScaling? RopeScaling, bool TieEmbeddings, bool AttentionBias, bool MlpBias)
{
    public static LlamaConfig From(HuggingFaceConfig config)
    {
        int hidden = config.GetInt("hidden_size", 4096);
        int heads = config.GetInt("num_attention_heads", 32);
        string activation = config.GetString("hidden_act") ?? "silu";
        if (activation != "silu")
        {
            throw new InvalidDataException($"{config.Path}: hidden_act \"{activation}\" is not supported; Llama uses silu.");
        }
        var result = new LlamaConfig(
            config.GetInt("vocab_size", 32000),
            hidden,
            config.GetInt("intermediate_size", 11008),
            config.GetInt("num_hidden_layers", 32),
            heads,
            config.Has("num_key_value_heads") ? config.GetInt("num_key_value_heads") : heads,
            config.Has("head_dim") ? config.GetInt("head_dim") : hidden / heads,
            config.GetInt("max_position_embeddings", 2048),
            config.GetDouble("rms_norm_eps", 1e-6),
            config.GetDouble("rope_theta", 10000),
            ReadScaling(config),
            config.GetBool("tie_word_embeddings", false),
            config.GetBool("attention_bias", false),
            config.GetBool("mlp_bias", false));
        if (heads % result.KeyValueHeads != 0)
        {
            throw new InvalidDataException($"{config.Path}: num_attention_heads {heads} is not a multiple of num_key_value_heads {result.KeyValueHeads}.");
        }
        return result;
    }

    private static Llama3RopeScaling? ReadScaling(HuggingFaceConfig config)
    {
        if (config.GetObject("rope_scaling") is not { } scaling)
        {
            return null;
        }
        string type = (scaling.TryGetProperty("rope_type", out JsonElement t) || scaling.TryGetProperty("type", out t)) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "default";
        if (type == "default")
        {
            return null;
        }
        if (type != "llama3")
        {
            throw new InvalidDataException($"{config.Path}: rope_scaling of type \"{type}\" is not supported; supported: none, default, llama3.");
        }
        double Get(string name) => scaling.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new InvalidDataException($"{config.Path}: rope_scaling of type llama3 needs \"{name}\".");
        return new Llama3RopeScaling(Get("factor"), Get("low_freq_factor"), Get("high_freq_factor"), (int)Get("original_max_position_embeddings"));
    }

    /// <summary>The rotary inverse frequencies <c>[head_dim / 2]</c>, float32, scaled as <c>rope_scaling</c> says.</summary>
    public Tensor InverseFrequencies()
    {
        Tensor exponents = arange(0, HeadDim, 2, dtype: ScalarType.Int64).to_type(ScalarType.Float32) / HeadDim;
        Tensor inverse = 1.0f / pow(tensor((float)RopeTheta), exponents);
        if (RopeScaling is not { } s)
        {
            return inverse;
        }
        double lowWavelength = s.OriginalMaxPositions / s.LowFrequencyFactor;
        double highWavelength = s.OriginalMaxPositions / s.HighFrequencyFactor;
        Tensor wavelength = 2 * Math.PI / inverse;
        Tensor scaled = where(wavelength > lowWavelength, inverse / s.Factor, inverse);
        Tensor smooth = ((s.OriginalMaxPositions / wavelength) - s.LowFrequencyFactor) / (s.HighFrequencyFactor - s.LowFrequencyFactor);
        Tensor smoothed = ((1 - smooth) * scaled / s.Factor) + (smooth * scaled);
        Tensor medium = wavelength.ge(highWavelength).logical_and(wavelength.le(lowWavelength));
        return where(medium, smoothed, scaled);
    }
}

/// <summary>
/// Hugging Face's <c>LlamaForCausalLM</c>, name for name: <c>model.embed_tokens</c>, <c>model.layers.N</c>
/// (<c>input_layernorm</c>, <c>self_attn.{q,k,v,o}_proj</c>, <c>post_attention_layernorm</c>,
/// <c>mlp.{gate,up,down}_proj</c>), <c>model.norm</c>, and <c>lm_head</c> unless tied.
/// </summary>
public sealed class LlamaForCausalLM : PretrainedLanguageModel
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;

    public LlamaForCausalLM(LlamaConfig config)
        : base(nameof(LlamaForCausalLM))
    {
        model = new LlamaModel(config);
        register_module(nameof(model), model);
        if (!config.TieEmbeddings)
        {
            lm_head = Linear(config.Hidden, config.VocabularySize, hasBias: false);
            register_module(nameof(lm_head), lm_head);
        }
    }

    public override string Architecture => nameof(LlamaForCausalLM);

    public override IEnumerable<string> Alternatives(string name) => WeightLoading.Alternatives(name, "model.");

    public override Tensor Hidden(Tensor inputIds, Tensor attentionMask, Tensor? positionIds, Tensor? documentIds) =>
        model.Encode(inputIds, attentionMask, positionIds, documentIds);

    public override Tensor Logits(Tensor hidden) => lm_head is null ? hidden.matmul(model.TokenEmbedding.t()) : lm_head.call(hidden);
}

internal sealed class LlamaModel : Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly LlamaConfig _config;

    public LlamaModel(LlamaConfig config)
        : base(nameof(LlamaModel))
    {
        _config = config;
        embed_tokens = Embedding(config.VocabularySize, config.Hidden);
        layers = ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        norm = new RmsNorm(config.Hidden, config.RmsNormEps);
        register_module(nameof(embed_tokens), embed_tokens);
        register_module(nameof(layers), layers);
        register_module(nameof(norm), norm);
        // A buffer, not a parameter: derived from the config, never in the file, never trained or saved.
        register_buffer("inv_freq", config.InverseFrequencies(), persistent: false);
        using (no_grad())
        {
            init.normal_(embed_tokens.weight!, 0, 0.02);
        }
    }

    public Parameter TokenEmbedding => embed_tokens.weight!;

    public Tensor Encode(Tensor inputIds, Tensor attentionMask, Tensor? positionIds, Tensor? documentIds)
    {
        long length = inputIds.shape[1];
        if (length > _config.MaxPositions)
        {
            throw new ArgumentException($"Sequence length {length} exceeds the model's {_config.MaxPositions} positions (max_position_embeddings).");
        }
        Tensor positions = positionIds ?? arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0).expand(inputIds.shape[0], length);
        Tensor inverse = get_buffer("inv_freq")!;
        // [batch, seq, head_dim / 2] in float32, as transformers computes it, then doubled to head_dim.
        Tensor angles = positions.to_type(ScalarType.Float32).unsqueeze(-1) * inverse.to(inputIds.device);
        Tensor both = cat([angles, angles], -1);
        Tensor x = embed_tokens.call(inputIds);
        Tensor cos = both.cos().to_type(x.dtype).unsqueeze(1);
        Tensor sin = both.sin().to_type(x.dtype).unsqueeze(1);
        Tensor blocked = AttentionMasks.PerToken(documentIds ?? (attentionMask - 1), causal: true).logical_not();
        foreach (LlamaDecoderLayer layer in layers)
        {
            x = layer.Forward(x, cos, sin, blocked);
        }
        return norm.call(x);
    }
}

internal sealed class LlamaDecoderLayer : Module
{
    private readonly RmsNorm input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly RmsNorm post_attention_layernorm;
    private readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig config)
        : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNorm(config.Hidden, config.RmsNormEps);
        self_attn = new LlamaAttention(config);
        post_attention_layernorm = new RmsNorm(config.Hidden, config.RmsNormEps);
        mlp = new LlamaMlp(config);
        register_module(nameof(input_layernorm), input_layernorm);
        register_module(nameof(self_attn), self_attn);
        register_module(nameof(post_attention_layernorm), post_attention_layernorm);
        register_module(nameof(mlp), mlp);
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor blocked)
    {
        x = x + self_attn.Forward(input_layernorm.call(x), cos, sin, blocked);
        return x + mlp.call(post_attention_layernorm.call(x));
    }
}

internal sealed class LlamaAttention : Module
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly int _heads;
    private readonly int _keyValueHeads;
    private readonly int _headDim;

    public LlamaAttention(LlamaConfig config)
        : base(nameof(LlamaAttention))
    {
        _heads = config.Heads;
        _keyValueHeads = config.KeyValueHeads;
        _headDim = config.HeadDim;
        q_proj = Linear(config.Hidden, config.Heads * config.HeadDim, hasBias: config.AttentionBias);
        k_proj = Linear(config.Hidden, config.KeyValueHeads * config.HeadDim, hasBias: config.AttentionBias);
        v_proj = Linear(config.Hidden, config.KeyValueHeads * config.HeadDim, hasBias: config.AttentionBias);
        o_proj = Linear(config.Heads * config.HeadDim, config.Hidden, hasBias: config.AttentionBias);
        register_module(nameof(q_proj), q_proj);
        register_module(nameof(k_proj), k_proj);
        register_module(nameof(v_proj), v_proj);
        register_module(nameof(o_proj), o_proj);
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor blocked)
    {
        long batch = x.shape[0], length = x.shape[1];
        Tensor q = q_proj.call(x).view(batch, length, _heads, _headDim).transpose(1, 2);
        Tensor k = k_proj.call(x).view(batch, length, _keyValueHeads, _headDim).transpose(1, 2);
        Tensor v = v_proj.call(x).view(batch, length, _keyValueHeads, _headDim).transpose(1, 2);
        q = (q * cos) + (RotateHalf(q) * sin);
        k = (k * cos) + (RotateHalf(k) * sin);
        int groups = _heads / _keyValueHeads;
        if (groups > 1)
        {
            // Each key/value head serves `groups` query heads in a row, as transformers' repeat_kv lays them out.
            k = k.repeat_interleave(groups, dim: 1);
            v = v.repeat_interleave(groups, dim: 1);
        }
        Tensor scores = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(_headDim);
        scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min);
        Tensor weights = functional.softmax(scores.to_type(ScalarType.Float32), -1).to_type(q.dtype);
        Tensor context = weights.matmul(v).transpose(1, 2).contiguous().view(batch, length, _heads * _headDim);
        return o_proj.call(context);
    }

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        return cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
    }
}

internal sealed class LlamaMlp : Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public LlamaMlp(LlamaConfig config)
        : base(nameof(LlamaMlp))
    {
        gate_proj = Linear(config.Hidden, config.Intermediate, hasBias: config.MlpBias);
        up_proj = Linear(config.Hidden, config.Intermediate, hasBias: config.MlpBias);
        down_proj = Linear(config.Intermediate, config.Hidden, hasBias: config.MlpBias);
        register_module(nameof(gate_proj), gate_proj);
        register_module(nameof(up_proj), up_proj);
        register_module(nameof(down_proj), down_proj);
    }

    public override Tensor forward(Tensor x) => down_proj.call(functional.silu(gate_proj.call(x)) * up_proj.call(x));
}

/// <summary>Llama's RMSNorm: x / sqrt(mean(x²) + eps), computed in float32, times the weight.</summary>
internal sealed class RmsNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(int size, double eps)
        : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = Parameter(ones(size));
        register_parameter(nameof(weight), weight);
    }

    public override Tensor forward(Tensor x)
    {
        Tensor wide = x.to_type(ScalarType.Float32);
        Tensor normed = wide * (wide.pow(2).mean([-1], keepdim: true) + _eps).rsqrt();
        return weight * normed.to_type(x.dtype);
    }
}
