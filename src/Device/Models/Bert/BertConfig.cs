using StreamLoader.Device.Models.HuggingFace;

namespace StreamLoader.Device.Models.Bert;

/// <summary>
/// The fields of a BERT-family <c>config.json</c> that shape the model, with <c>transformers</c>' defaults for
/// <c>BertConfig</c> where a field is absent.
/// </summary>
public sealed record BertConfig(
    int VocabularySize,
    int Hidden,
    int Layers,
    int Heads,
    int Intermediate,
    int MaxPositions,
    int TypeVocabularySize,
    double LayerNormEps,
    double HiddenDropout,
    double AttentionDropout,
    double ClassifierDropout,
    string Activation,
    int PadTokenId)
{
    /// <summary>
    /// RoBERTa's positions: counted from <see cref="PadTokenId"/> + 1 over the tokens that are not padding (padding keeps
    /// position <see cref="PadTokenId"/>), as transformers' <c>create_position_ids_from_input_ids</c> does; BERT's are 0, 1, ….
    /// </summary>
    public bool PositionsAfterPadding { get; init; }

    /// <summary>The longest row the model takes: its position table, less the rows RoBERTa's offset uses.</summary>
    public int UsablePositions => PositionsAfterPadding ? MaxPositions - PadTokenId - 1 : MaxPositions;

    /// <summary>Reads the fields from <paramref name="config"/>.</summary>
    public static BertConfig From(HuggingFaceConfig config)
    {
        double hiddenDropout = config.GetDouble("hidden_dropout_prob", 0.1);
        BertConfig result = new BertConfig(
            config.GetInt("vocab_size"),
            config.GetInt("hidden_size", 768),
            config.GetInt("num_hidden_layers", 12),
            config.GetInt("num_attention_heads", 12),
            config.GetInt("intermediate_size", 3072),
            config.GetInt("max_position_embeddings", 512),
            config.GetInt("type_vocab_size", 2),
            config.GetDouble("layer_norm_eps", 1e-12),
            hiddenDropout,
            config.GetDouble("attention_probs_dropout_prob", 0.1),
            config.Has("classifier_dropout") ? config.GetDouble("classifier_dropout") : hiddenDropout,
            config.GetString("hidden_act") ?? "gelu",
            config.GetInt("pad_token_id", 0));
        result = result with { PositionsAfterPadding = config.ModelType is "roberta" or "xlm-roberta" };
        if (result.Hidden % result.Heads != 0)
        {
            throw new InvalidDataException($"{config.Path}: hidden_size {result.Hidden} is not a multiple of num_attention_heads {result.Heads}.");
        }
        return result;
    }

    /// <summary>The feed-forward activation by its <c>hidden_act</c> name.</summary>
    public Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> ActivationFunction(string path) => Activation switch
    {
        "gelu" => x => TorchSharp.torch.nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => x => x.gelu(TorchSharp.Modules.GELU.Approximate.tanh),
        "relu" => x => TorchSharp.torch.nn.functional.relu(x),
        _ => throw new InvalidDataException($"{path}: hidden_act \"{Activation}\" is not supported; supported: gelu, gelu_new, gelu_pytorch_tanh, relu."),
    };
}
