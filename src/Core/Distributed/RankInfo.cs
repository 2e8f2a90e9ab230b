namespace StreamLoader.Core.Distributed;

/// <summary>This process's rank and the world size, for sharding documents across data-parallel workers.</summary>
public sealed record RankInfo
{
    public RankInfo(int rank, int worldSize, string origin = "explicit")
    {
        if (worldSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "The world size must be at least 1.");
        }
        if (rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank must be in [0, {worldSize - 1}] for world size {worldSize}.");
        }
        Rank = rank;
        WorldSize = worldSize;
        Origin = origin;
    }

    /// <summary>0-based rank.</summary>
    public int Rank { get; }

    /// <summary>Number of ranks.</summary>
    public int WorldSize { get; }

    /// <summary>Where the values came from ("explicit", "torchrun", "slurm", ...).</summary>
    public string Origin { get; }

    /// <summary>A single process.</summary>
    public static RankInfo Single { get; } = new(0, 1, "default");

    /// <summary>True when document (or block of documents) <paramref name="ordinal"/> (0-based, in source order) belongs to this rank.</summary>
    public bool Owns(long ordinal) => ordinal % WorldSize == Rank;

    /// <summary>How many of the blocks <c>[first, first + count)</c> this rank owns.</summary>
    public long OwnedAmong(long first, long count)
    {
        long Upto(long end) => end <= Rank ? 0 : ((end - 1 - Rank) / WorldSize) + 1;
        return Upto(first + count) - Upto(first);
    }

    /// <summary>
    /// Reads rank and world size from the variables launchers set: torchrun (RANK, WORLD_SIZE), Open MPI
    /// (OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE), Slurm (SLURM_PROCID, SLURM_NTASKS) and Kubernetes indexed
    /// Jobs (JOB_COMPLETION_INDEX with WORLD_SIZE), and Slurm job arrays (SLURM_ARRAY_TASK_ID from
    /// SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT; with several tasks per array element, rank = element × tasks +
    /// SLURM_PROCID). Returns <see cref="Single"/> when none is set.
    /// </summary>
    public static RankInfo FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        if (getVariable("SLURM_ARRAY_TASK_ID") is { } arrayText && getVariable("SLURM_ARRAY_TASK_COUNT") is { } countText && getVariable("RANK") is null)
        {
            string minText = getVariable("SLURM_ARRAY_TASK_MIN") ?? "0";
            string procText = getVariable("SLURM_PROCID") ?? "0";
            string tasksText = getVariable("SLURM_NTASKS") ?? "1";
            if (!int.TryParse(arrayText, out int element) || !int.TryParse(countText, out int count) || !int.TryParse(minText, out int min)
                || !int.TryParse(procText, out int proc) || !int.TryParse(tasksText, out int tasks))
            {
                throw new FormatException($"SLURM_ARRAY_TASK_ID={arrayText}, SLURM_ARRAY_TASK_COUNT={countText}, SLURM_ARRAY_TASK_MIN={minText}, SLURM_PROCID={procText} and SLURM_NTASKS={tasksText} (slurm array) must be integers.");
            }
            if (element - min < 0 || element - min >= count)
            {
                throw new InvalidOperationException($"SLURM_ARRAY_TASK_ID={element} is outside the array (SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_COUNT={count}); for a strided array (--array=0-15:4) pass --rank and --world-size.");
            }
            return new RankInfo(((element - min) * tasks) + proc, count * tasks, "slurm-array");
        }
        (string Rank, string Size, string Origin)[] launchers =
        [
            ("RANK", "WORLD_SIZE", "torchrun"),
            ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "openmpi"),
            ("SLURM_PROCID", "SLURM_NTASKS", "slurm"),
            ("JOB_COMPLETION_INDEX", "WORLD_SIZE", "kubernetes"),
        ];
        foreach ((string rankVar, string sizeVar, string origin) in launchers)
        {
            string? rankText = getVariable(rankVar);
            string? sizeText = getVariable(sizeVar);
            if (rankText is null)
            {
                continue;
            }
            if (sizeText is null)
            {
                throw new InvalidOperationException($"{rankVar}={rankText} is set ({origin}) but {sizeVar} is not; set both, or pass --rank and --world-size.");
            }
            if (!int.TryParse(rankText, out int rank) || !int.TryParse(sizeText, out int size))
            {
                throw new FormatException($"{rankVar}={rankText} and {sizeVar}={sizeText} ({origin}) must be integers.");
            }
            return new RankInfo(rank, size, origin);
        }
        return Single;
    }
}
