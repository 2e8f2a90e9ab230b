using StreamLoader.Device.Models.HuggingFace;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models.Gpt2;

/// <summary>GPT-2 checkpoints (<c>model_type</c> "gpt2"): gpt2, gpt2-medium/large/xl, distilgpt2, for continued pretraining with clm.</summary>
public sealed class Gpt2Family : IPretrainedFamily
{
    public string Name => "gpt2";

    public IReadOnlyList<string> Architectures { get; } = ["GPT2LMHeadModel", "GPT2Model"];

    public bool Reads(HuggingFaceConfig config) =>
        config.ModelType == "gpt2" && (config.Architecture.Length == 0 || Architectures.Contains(config.Architecture));

    public int MaxPositions(HuggingFaceConfig config) => Gpt2Config.From(config).Positions;

    public int VocabularySize(HuggingFaceConfig config) => Gpt2Config.From(config).VocabularySize;

    public PretrainedSequenceClassifier CreateSequenceClassifier(HuggingFaceConfig config, int labels) =>
        throw new ArgumentException($"{config.Path}: {config.Describe()} is a decoder; classify and multilabel start from an encoder folder (bert, roberta, distilbert), clm from this one.");

    public bool Decodes => true;

    public PretrainedLanguageModel CreateCausalLanguageModel(HuggingFaceConfig config) => new Gpt2LMHeadModel(Gpt2Config.From(config));
}

/// <summary>The fields of a GPT-2 <c>config.json</c>, with <c>transformers</c>' defaults.</summary>
public sealed record Gpt2Config(int VocabularySize, int Hidden, int Layers, int Heads, int Inner, int Positions, double LayerNormEps, double Dropout, string Activation, string Path)
{
    public static Gpt2Config From(HuggingFaceConfig config)
    {
        int hidden = config.GetInt("n_embd", 768);
        var result = new Gpt2Config(
            config.GetInt("vocab_size", 50257),
            hidden,
            config.GetInt("n_layer", 12),
            config.GetInt("n_head", 12),
            config.Has("n_inner") ? config.GetInt("n_inner") : 4 * hidden,
            config.GetInt("n_positions", 1024),
            config.GetDouble("layer_norm_epsilon", 1e-5),
            config.GetDouble("resid_pdrop", 0.1),
            config.GetString("activation_function") ?? "gelu_new",
            config.Path);
        if (hidden % result.Heads != 0)
        {
            throw new InvalidDataException($"{config.Path}: n_embd {hidden} is not a multiple of n_head {result.Heads}.");
        }
        if (config.GetBool("scale_attn_by_inverse_layer_idx", false) || config.GetBool("reorder_and_upcast_attn", false))
        {
            throw new InvalidDataException($"{config.Path}: scale_attn_by_inverse_layer_idx and reorder_and_upcast_attn are not supported.");
        }
        return result;
    }

    public Func<Tensor, Tensor> ActivationFunction() => Activation switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => x => x.gelu(TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => x => functional.gelu(x),
        "relu" => x => functional.relu(x),
        _ => throw new InvalidDataException($"{Path}: activation_function \"{Activation}\" is not supported; supported: gelu_new, gelu, relu."),
    };
}

/// <summary>
/// Hugging Face's <c>GPT2LMHeadModel</c>, name for name: <c>transformer.wte</c>, <c>transformer.wpe</c>,
/// <c>transformer.h.N</c> (pre-norm blocks whose projections are GPT-2's Conv1D, weights stored <c>[in, out]</c> as in
/// the file) and <c>transformer.ln_f</c>; the LM head is tied to <c>wte</c>.
/// </summary>
public sealed class Gpt2LMHeadModel : PretrainedLanguageModel
{
    private readonly Gpt2Model transformer;

    public Gpt2LMHeadModel(Gpt2Config config)
        : base(nameof(Gpt2LMHeadModel))
    {
        transformer = new Gpt2Model(config);
        register_module(nameof(transformer), transformer);
    }

    public override string Architecture => "GPT2LMHeadModel";

    public override IEnumerable<string> Alternatives(string name) => WeightLoading.Alternatives(name, "transformer.");

    public override Tensor Hidden(Tensor inputIds, Tensor attentionMask, Tensor? positionIds, Tensor? documentIds) =>
        transformer.Encode(inputIds, attentionMask, positionIds, documentIds);

    public override Tensor Logits(Tensor hidden) => hidden.matmul(transformer.TokenEmbedding.t());
}

internal sealed class Gpt2Model : Module
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly Dropout drop;
    private readonly ModuleList<Gpt2Block> h;
    private readonly LayerNorm ln_f;
    private readonly int _positions;

    public Gpt2Model(Gpt2Config config)
        : base(nameof(Gpt2Model))
    {
        _positions = config.Positions;
        wte = Embedding(config.VocabularySize, config.Hidden);
        wpe = Embedding(config.Positions, config.Hidden);
        drop = Dropout(config.Dropout);
        h = ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new Gpt2Block(config)).ToArray());
        ln_f = LayerNorm(config.Hidden, eps: config.LayerNormEps);
        register_module(nameof(wte), wte);
        register_module(nameof(wpe), wpe);
        register_module(nameof(drop), drop);
        register_module(nameof(h), h);
        register_module(nameof(ln_f), ln_f);
        using (no_grad())
        {
            init.normal_(wte.weight!, 0, 0.02);
            init.normal_(wpe.weight!, 0, 0.01);
        }
    }

    public Parameter TokenEmbedding => wte.weight!;

    /// <summary>The final hidden states; attention is causal and, with <paramref name="documentIds"/>, kept inside each packed document.</summary>
    public Tensor Encode(Tensor inputIds, Tensor attentionMask, Tensor? positionIds, Tensor? documentIds)
    {
        long length = inputIds.shape[1];
        if (length > _positions)
        {
            throw new ArgumentException($"Sequence length {length} exceeds the model's {_positions} positions (n_positions).");
        }
        Tensor positions = positionIds ?? arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        Tensor x = drop.call(wte.call(inputIds) + wpe.call(positions));
        Tensor blocked = AttentionMasks.PerToken(documentIds ?? (attentionMask - 1), causal: true).logical_not();
        foreach (Gpt2Block block in h)
        {
            x = block.call(x, blocked);
        }
        return ln_f.call(x);
    }
}

internal sealed class Gpt2Block : Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly Gpt2Attention attn;
    private readonly LayerNorm ln_2;
    private readonly Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config config)
        : base(nameof(Gpt2Block))
    {
        ln_1 = LayerNorm(config.Hidden, eps: config.LayerNormEps);
        attn = new Gpt2Attention(config);
        ln_2 = LayerNorm(config.Hidden, eps: config.LayerNormEps);
        mlp = new Gpt2Mlp(config);
        register_module(nameof(ln_1), ln_1);
        register_module(nameof(attn), attn);
        register_module(nameof(ln_2), ln_2);
        register_module(nameof(mlp), mlp);
    }

    public override Tensor forward(Tensor x, Tensor blocked)
    {
        x = x + attn.call(ln_1.call(x), blocked);
        return x + mlp.call(ln_2.call(x));
    }
}

internal sealed class Gpt2Attention : Module<Tensor, Tensor, Tensor>
{
    private readonly Conv1D c_attn;
    private readonly Conv1D c_proj;
    private readonly Dropout attn_dropout;
    private readonly Dropout resid_dropout;
    private readonly int _heads;
    private readonly int _headSize;

    public Gpt2Attention(Gpt2Config config)
        : base(nameof(Gpt2Attention))
    {
        _heads = config.Heads;
        _headSize = config.Hidden / config.Heads;
        c_attn = new Conv1D(config.Hidden, 3 * config.Hidden);
        c_proj = new Conv1D(config.Hidden, config.Hidden);
        attn_dropout = Dropout(config.Dropout);
        resid_dropout = Dropout(config.Dropout);
        register_module(nameof(c_attn), c_attn);
        register_module(nameof(c_proj), c_proj);
        register_module(nameof(attn_dropout), attn_dropout);
        register_module(nameof(resid_dropout), resid_dropout);
    }

    public override Tensor forward(Tensor x, Tensor blocked)
    {
        long batch = x.shape[0], length = x.shape[1];
        Tensor[] qkv = c_attn.call(x).split(_heads * _headSize, dim: 2);
        Tensor Heads(Tensor t) => t.view(batch, length, _heads, _headSize).transpose(1, 2);
        Tensor scores = Heads(qkv[0]).matmul(Heads(qkv[1]).transpose(-1, -2)) / Math.Sqrt(_headSize);
        scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min);
        Tensor context = attn_dropout.call(functional.softmax(scores, -1)).matmul(Heads(qkv[2]));
        return resid_dropout.call(c_proj.call(context.transpose(1, 2).contiguous().view(batch, length, _heads * _headSize)));
    }
}

internal sealed class Gpt2Mlp : Module<Tensor, Tensor>
{
    private readonly Conv1D c_fc;
    private readonly Conv1D c_proj;
    private readonly Dropout dropout;
    private readonly Func<Tensor, Tensor> _activation;

    public Gpt2Mlp(Gpt2Config config)
        : base(nameof(Gpt2Mlp))
    {
        c_fc = new Conv1D(config.Hidden, config.Inner);
        c_proj = new Conv1D(config.Inner, config.Hidden);
        dropout = Dropout(config.Dropout);
        _activation = config.ActivationFunction();
        register_module(nameof(c_fc), c_fc);
        register_module(nameof(c_proj), c_proj);
        register_module(nameof(dropout), dropout);
    }

    public override Tensor forward(Tensor x) => dropout.call(c_proj.call(_activation(c_fc.call(x))));
}

/// <summary>GPT-2's Conv1D: a linear layer whose weight is stored <c>[in, out]</c> (the transpose of <c>nn.Linear</c>'s), kept so here as in the file.</summary>
internal sealed class Conv1D : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;

    public Conv1D(int inputs, int outputs)
        : base(nameof(Conv1D))
    {
        weight = Parameter(normal(0, 0.02, [inputs, outputs]));
        bias = Parameter(zeros(outputs));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public override Tensor forward(Tensor x) => x.matmul(weight) + bias;
}
