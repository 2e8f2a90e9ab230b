namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>A task model built from a Hugging Face model folder (<see cref="Training.ModelContext.Pretrained"/>).</summary>
public interface IPretrainedModel
{
    /// <summary>One line for the run's log and report: the architecture, the folder, what was loaded and what is new.</summary>
    string Description { get; }

    /// <summary>The folder it was built from.</summary>
    HuggingFaceModelFolder Folder { get; }
}
