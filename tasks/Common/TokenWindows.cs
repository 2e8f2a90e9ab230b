namespace StreamLoader.Tasks.Common;

/// <summary>Cuts a document's ids into consecutive windows of at most a given width, none dropped.</summary>
public static class TokenWindows
{
    /// <summary>The (offset, length) of each window of <paramref name="count"/> ids; none for an empty document.</summary>
    /// <remarks>A struct enumerable: a builder's <c>foreach</c> over it allocates nothing per document.</remarks>
    public static Windows Cut(int count, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        return new Windows(count, width);
    }

    /// <summary>The windows of one document, enumerated without allocating.</summary>
    public readonly struct Windows
    {
        private readonly int _count;
        private readonly int _width;

        internal Windows(int count, int width)
        {
            _count = count;
            _width = width;
        }

        public Enumerator GetEnumerator() => new(_count, _width);

        /// <summary>The windows as a list (for tests and messages).</summary>
        public List<(int Offset, int Length)> ToList()
        {
            var list = new List<(int Offset, int Length)>();
            foreach ((int Offset, int Length) window in this)
            {
                list.Add(window);
            }
            return list;
        }
    }

    /// <summary>Walks the windows.</summary>
    public struct Enumerator
    {
        private readonly int _count;
        private readonly int _width;
        private int _offset;

        internal Enumerator(int count, int width)
        {
            _count = count;
            _width = width;
            _offset = -width;
        }

        public readonly (int Offset, int Length) Current => (_offset, Math.Min(_width, _count - _offset));

        public bool MoveNext()
        {
            _offset += _width;
            return _offset < _count;
        }
    }
}
