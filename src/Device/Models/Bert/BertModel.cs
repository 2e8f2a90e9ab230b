using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models.Bert;

/// <summary>
/// Hugging Face's <c>BertModel</c>, module for module and name for name (<c>embeddings.word_embeddings.weight</c>,
/// <c>encoder.layer.0.attention.self.query.weight</c>, <c>pooler.dense.weight</c>, …), so a <c>model.safetensors</c>
/// written by <c>transformers</c> loads one to one: word, position and token-type embeddings, post-layer-norm
/// blocks with the config's <c>layer_norm_eps</c>, the exact (erf) GELU, and the pooler.
/// </summary>
/// <remarks>Attention is computed as <c>transformers</c>' eager path does it (scores, an additive mask, softmax), so results match it to float rounding.</remarks>
public sealed class BertModel : Module<Tensor, Tensor, Tensor>
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;

    public BertModel(BertConfig config, bool withPooler, string path)
        : base(nameof(BertModel))
    {
        Config = config;
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config, path);
        register_module(nameof(embeddings), embeddings);
        register_module(nameof(encoder), encoder);
        if (withPooler)
        {
            pooler = new BertPooler(config.Hidden);
            register_module(nameof(pooler), pooler);
        }
    }

    /// <summary>The shape read from <c>config.json</c>.</summary>
    public BertConfig Config { get; }

    /// <summary>The word embeddings (an MLM head ties its decoder to them).</summary>
    public Parameter WordEmbeddings => embeddings.WordEmbeddings;

    /// <summary>The last hidden state <c>[batch, seq, hidden]</c>.</summary>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask) => Encode(inputIds, attentionMask, null);

    /// <summary>
    /// The last hidden state; <paramref name="tokenTypeIds"/> null is all segment 0. Packed rows give
    /// <paramref name="positionIds"/> (restarting per document) and <paramref name="documentIds"/> (attention kept
    /// inside each document); without them a row is one document.
    /// </summary>
    public Tensor Encode(Tensor inputIds, Tensor attentionMask, Tensor? tokenTypeIds, Tensor? positionIds = null, Tensor? documentIds = null)
    {
        long length = inputIds.shape[1];
        if (length > Config.UsablePositions)
        {
            throw new ArgumentException($"Sequence length {length} exceeds the model's {Config.UsablePositions} positions (max_position_embeddings {Config.MaxPositions}).");
        }
        Tensor hidden = embeddings.Embed(inputIds, tokenTypeIds ?? zeros_like(inputIds), positionIds);
        // transformers' extended mask: 0 where a key may be attended, the dtype's minimum where it is padding (or,
        // packed, in another document).
        Tensor allowed = documentIds is null
            ? attentionMask.unsqueeze(1).unsqueeze(2).to_type(hidden.dtype)
            : AttentionMasks.PerToken(documentIds, causal: false).to_type(hidden.dtype);
        Tensor additive = (1.0 - allowed) * torch.finfo(hidden.dtype).min;
        return encoder.call(hidden, additive);
    }

    /// <summary>BERT's pooled output: tanh of a dense layer over the first token.</summary>
    public Tensor Pool(Tensor lastHidden) =>
        pooler?.call(lastHidden) ?? throw new InvalidOperationException("This BERT was built without its pooler.");
}

internal sealed class BertEmbeddings : Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    // Named as transformers names it: TorchSharp takes a parameter's name from the field that holds its module.
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;

    private readonly BertConfig _config;

    public BertEmbeddings(BertConfig config)
        : base(nameof(BertEmbeddings))
    {
        _config = config;
        word_embeddings = Embedding(config.VocabularySize, config.Hidden, padding_idx: config.PadTokenId);
        position_embeddings = Embedding(config.MaxPositions, config.Hidden);
        token_type_embeddings = Embedding(config.TypeVocabularySize, config.Hidden);
        LayerNorm = torch.nn.LayerNorm(config.Hidden, eps: config.LayerNormEps);
        dropout = Dropout(config.HiddenDropout);
        register_module(nameof(word_embeddings), word_embeddings);
        register_module(nameof(position_embeddings), position_embeddings);
        register_module(nameof(token_type_embeddings), token_type_embeddings);
        register_module(nameof(LayerNorm), LayerNorm);
        register_module(nameof(dropout), dropout);
        using (no_grad())
        {
            // BERT's initialisation, for the weights a folder does not supply.
            init.normal_(word_embeddings.weight!, 0, 0.02);
            init.normal_(position_embeddings.weight!, 0, 0.02);
            init.normal_(token_type_embeddings.weight!, 0, 0.02);
        }
    }

    public Parameter WordEmbeddings => word_embeddings.weight!;

    /// <summary>RoBERTa's position ids: padding + 1, + 2, … over the tokens that are not padding; padding itself at padding.</summary>
    private static Tensor PositionsAfterPadding(Tensor inputIds, int padding)
    {
        Tensor real = inputIds.ne(padding).to_type(ScalarType.Int64);
        return (real.cumsum(1) * real) + padding;
    }

    public override Tensor forward(Tensor inputIds, Tensor tokenTypeIds) => Embed(inputIds, tokenTypeIds, null);

    /// <summary>The embeddings' sum, normed; <paramref name="positionIds"/> from packed rows, else the family's own positions.</summary>
    public Tensor Embed(Tensor inputIds, Tensor tokenTypeIds, Tensor? positionIds)
    {
        Tensor positions = positionIds is not null && !_config.PositionsAfterPadding ? positionIds : _config.PositionsAfterPadding
            ? PositionsAfterPadding(inputIds, _config.PadTokenId)
            : arange(inputIds.shape[1], dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        Tensor sum = word_embeddings.call(inputIds) + token_type_embeddings.call(tokenTypeIds) + position_embeddings.call(positions);
        return dropout.call(LayerNorm.call(sum));
    }
}

internal sealed class BertEncoder : Module<Tensor, Tensor, Tensor>
{
    private readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig config, string path)
        : base(nameof(BertEncoder))
    {
        layer = ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new BertLayer(config, path)).ToArray());
        register_module(nameof(layer), layer);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        foreach (BertLayer block in layer)
        {
            hidden = block.call(hidden, additiveMask);
        }
        return hidden;
    }
}

internal sealed class BertLayer : Module<Tensor, Tensor, Tensor>
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertOutput output;

    public BertLayer(BertConfig config, string path)
        : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config, path);
        output = new BertOutput(config.Intermediate, config);
        register_module(nameof(attention), attention);
        register_module(nameof(intermediate), intermediate);
        register_module(nameof(output), output);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        Tensor attended = attention.call(hidden, additiveMask);
        return output.call(intermediate.call(attended), attended);
    }
}

internal sealed class BertAttention : Module<Tensor, Tensor, Tensor>
{
    private readonly BertSelfAttention self;
    private readonly BertOutput output;

    public BertAttention(BertConfig config)
        : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(config);
        output = new BertOutput(config.Hidden, config);
        register_module(nameof(self), self);
        register_module(nameof(output), output);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask) => output.call(self.call(hidden, additiveMask), hidden);
}

internal sealed class BertSelfAttention : Module<Tensor, Tensor, Tensor>
{
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
    private readonly Dropout dropout;
    private readonly int _heads;
    private readonly int _headSize;

    public BertSelfAttention(BertConfig config)
        : base(nameof(BertSelfAttention))
    {
        _heads = config.Heads;
        _headSize = config.Hidden / config.Heads;
        query = Linear(config.Hidden, config.Hidden);
        key = Linear(config.Hidden, config.Hidden);
        value = Linear(config.Hidden, config.Hidden);
        dropout = Dropout(config.AttentionDropout);
        register_module(nameof(query), query);
        register_module(nameof(key), key);
        register_module(nameof(value), value);
        register_module(nameof(dropout), dropout);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        long batch = hidden.shape[0], length = hidden.shape[1];
        Tensor Heads(Tensor x) => x.view(batch, length, _heads, _headSize).transpose(1, 2);
        Tensor q = Heads(query.call(hidden));
        Tensor k = Heads(key.call(hidden));
        Tensor v = Heads(value.call(hidden));
        Tensor scores = (q.matmul(k.transpose(-1, -2)) / Math.Sqrt(_headSize)) + additiveMask;
        Tensor context = dropout.call(functional.softmax(scores, -1)).matmul(v);
        return context.transpose(1, 2).contiguous().view(batch, length, _heads * _headSize);
    }
}

/// <summary>BertSelfOutput and BertOutput alike: dense, dropout, then the layer norm of the sum with the block's input.</summary>
internal sealed class BertOutput : Module<Tensor, Tensor, Tensor>
{
    private readonly Linear dense;
    // Named as transformers names it: TorchSharp takes a parameter's name from the field that holds its module.
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;

    public BertOutput(int input, BertConfig config)
        : base(nameof(BertOutput))
    {
        dense = Linear(input, config.Hidden);
        LayerNorm = torch.nn.LayerNorm(config.Hidden, eps: config.LayerNormEps);
        dropout = Dropout(config.HiddenDropout);
        register_module(nameof(dense), dense);
        register_module(nameof(LayerNorm), LayerNorm);
        register_module(nameof(dropout), dropout);
    }

    public override Tensor forward(Tensor hidden, Tensor residual) => LayerNorm.call(dropout.call(dense.call(hidden)) + residual);
}

internal sealed class BertIntermediate : Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly Func<Tensor, Tensor> _activation;

    public BertIntermediate(BertConfig config, string path)
        : base(nameof(BertIntermediate))
    {
        dense = Linear(config.Hidden, config.Intermediate);
        _activation = config.ActivationFunction(path);
        register_module(nameof(dense), dense);
    }

    public override Tensor forward(Tensor hidden) => _activation(dense.call(hidden));
}

internal sealed class BertPooler : Module<Tensor, Tensor>
{
    private readonly Linear dense;

    public BertPooler(int hidden)
        : base(nameof(BertPooler))
    {
        dense = Linear(hidden, hidden);
        register_module(nameof(dense), dense);
    }

    public override Tensor forward(Tensor lastHidden) => tanh(dense.call(lastHidden.select(1, 0)));
}
