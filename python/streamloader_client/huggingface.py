"""StreamLoader batches in the form Hugging Face models take (numpy in, numpy out; no transformers import).

    from streamloader_client import Client
    from streamloader_client.huggingface import for_huggingface
    for batch in Client("tcp://loader:5555"):
        inputs = {k: torch.from_numpy(v) for k, v in for_huggingface(batch, attention="4d").items()}
        loss = model(**inputs).loss

Two things differ between StreamLoader's batches and what a stock Hugging Face model expects:

* Causal LM labels. StreamLoader's `clm` labels are already the next token (labels[t] = input_ids[t + 1], as in
  nanoGPT and Megatron). A Hugging Face LM head shifts its labels itself, so given those it would learn to predict
  two tokens ahead. `for_huggingface` unshifts them: labels[t] = input_ids[t] where token t follows t - 1 in the same
  document, else -100. The label of a row's last position (the first token of the next row) has no place in the
  unshifted form and is dropped: a row of T positions trains T - 1 predictions, as with any Hugging Face LM.
* Packed rows. StreamLoader packs documents back to back (`clm`, `mlm --pack true`) and says where each starts in
  `document_ids`; `attention_mask` there is only the padding mask. A stock model needs the boundaries too, or it
  attends across documents. `position_ids` (restarting at 0 in each document, as `DataCollatorWithFlattening`
  gives) are always returned for packed rows, and with them:
    attention="4d": `attention_mask` becomes a 4-D additive mask [batch, 1, T, T] (0 where a position may attend,
      the dtype's minimum elsewhere): same document, not padding, and causal for `clm`;
    attention="flash": the flattened form `DataCollatorWithFlattening(return_flash_attn_kwargs=True)` gives for
      FlashAttention's varlen kernels: `input_ids`, `labels` and `position_ids` as one row [1, N] of every
      non-padding position, row after row, no `attention_mask`, and `cu_seq_lens_q`/`cu_seq_lens_k` (int32
      cumulative document lengths) and `max_length_q`/`max_length_k`;
    attention="padding": the 2-D padding mask as it came (only right for unpacked rows).
"""
import numpy as np

IGNORE_INDEX = -100

__all__ = ["for_huggingface", "unshift_causal_labels", "document_position_ids", "document_attention_mask", "flash_varlen_lengths"]


def unshift_causal_labels(labels, input_ids):
    """StreamLoader clm labels (labels[t] = next token, -100 where there is none) -> Hugging Face's (labels[t] = input_ids[t])."""
    labels = np.asarray(labels)
    out = np.full_like(labels, IGNORE_INDEX)
    # Position t is predicted from t - 1 exactly when StreamLoader's label at t - 1 is a token (same document).
    predicted = labels[:, :-1] != IGNORE_INDEX
    out[:, 1:] = np.where(predicted, np.asarray(input_ids)[:, 1:], IGNORE_INDEX)
    return out


def _starts(document_ids, attention_mask):
    """True at every position that starts a document (the row's first, and wherever document_ids changes)."""
    starts = np.ones_like(document_ids, dtype=bool)
    starts[:, 1:] = document_ids[:, 1:] != document_ids[:, :-1]
    return starts & (attention_mask != 0)


def document_position_ids(document_ids, attention_mask):
    """Positions counted from 0 at each document's start in each row (padding continues the last document's count)."""
    document_ids = np.asarray(document_ids)
    starts = _starts(document_ids, np.asarray(attention_mask))
    index = np.broadcast_to(np.arange(document_ids.shape[1]), document_ids.shape)
    last_start = np.maximum.accumulate(np.where(starts, index, 0), axis=1)
    return (index - last_start).astype(np.int64)


def document_attention_mask(document_ids, attention_mask, causal, dtype=np.float32):
    """[batch, 1, T, T] additive mask: 0 where query i may attend key j (same document, key not padding, j <= i if causal)."""
    document_ids = np.asarray(document_ids)
    keys = np.asarray(attention_mask) != 0
    allowed = (document_ids[:, :, None] == document_ids[:, None, :]) & keys[:, None, :]
    if causal:
        allowed &= np.tril(np.ones((document_ids.shape[1],) * 2, dtype=bool))[None]
    # A padding query attends to itself only, so no row of the mask is all minimum (softmax of nothing is NaN).
    eye = np.eye(document_ids.shape[1], dtype=bool)[None]
    allowed |= eye & ~keys[:, :, None]
    return np.where(allowed, 0, np.finfo(dtype).min).astype(dtype)[:, None]


def flash_varlen_lengths(document_ids, attention_mask):
    """(cu_seq_lens int32 [documents + 1], max_length) over the batch flattened row by row, padding left out."""
    document_ids = np.asarray(document_ids)
    mask = np.asarray(attention_mask) != 0
    lengths = []
    for row in range(document_ids.shape[0]):
        ids = document_ids[row][mask[row]]
        if ids.size == 0:
            continue
        cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        edges = np.concatenate(([0], cuts, [ids.size]))
        lengths.extend(np.diff(edges).tolist())
    cu = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    return cu, int(max(lengths, default=0))


def for_huggingface(batch, attention="4d", dtype=np.float32):
    """A StreamLoader batch (as Client yields it) -> the tensors a stock Hugging Face model takes, as numpy arrays.

    attention: "4d", "flash" or "padding" (see the module's text); only packed rows (with document_ids) differ."""
    if attention not in ("4d", "flash", "padding"):
        raise ValueError(f"attention must be '4d', 'flash' or 'padding', not {attention!r}")
    task = batch.get("meta", {}).get("task")
    ids = batch["input_ids"]
    mask = batch.get("attention_mask", np.ones_like(ids))
    out = {"input_ids": ids}
    if "labels" in batch:
        out["labels"] = unshift_causal_labels(batch["labels"], ids) if task == "clm" else batch["labels"]
    if "document_ids" not in batch or attention == "padding":
        out["attention_mask"] = mask
        if "position_ids" in batch:
            out["position_ids"] = batch["position_ids"]
        return out
    documents = batch["document_ids"]
    out["position_ids"] = document_position_ids(documents, mask)
    if attention == "4d":
        out["attention_mask"] = document_attention_mask(documents, mask, causal=task == "clm", dtype=dtype)
    else:
        # Flattened as DataCollatorWithFlattening does: one row of every non-padding position, no attention_mask.
        keep = mask != 0
        out = {name: value[keep][None] for name, value in out.items()}
        cu, longest = flash_varlen_lengths(documents, mask)
        out.update(cu_seq_lens_q=cu, cu_seq_lens_k=cu, max_length_q=longest, max_length_k=longest)
    return out
