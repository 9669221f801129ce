/* A line diff of two policy sources (longest common subsequence), for
 * the policy page. Bounded: larger inputs say so instead of freezing the
 * tab (af policy diff compares canonical forms of any size). */
"use strict";
(function (global) {
  const MAX_CELLS = 4e6;

  /* [{op: "same"|"add"|"del", line}] from a to b, or null when too big. */
  function lineDiff(a, b) {
    const x = a.split("\n"), y = b.split("\n");
    const n = x.length, m = y.length;
    if ((n + 1) * (m + 1) > MAX_CELLS) return null;
    const w = m + 1, L = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        L[i * w + j] = x[i] === y[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    const out = [];
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { out.push({ op: "same", line: x[i] }); i++; j++; }
      else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) out.push({ op: "del", line: x[i++] });
      else out.push({ op: "add", line: y[j++] });
    }
    while (i < n) out.push({ op: "del", line: x[i++] });
    while (j < m) out.push({ op: "add", line: y[j++] });
    return out;
  }

  global.AfDiff = { lineDiff: lineDiff };
})(window);
