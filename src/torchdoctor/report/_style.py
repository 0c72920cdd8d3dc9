"""The report's style sheet (inline in every page: the HTML files need no other file)."""

__all__ = ["CSS"]

CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--bg:#fff;--card:#f7f8fa;--line:#dfe3ea;
--error:#c62828;--warning:#e65100;--info:#1565c0;--ok:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1360px;margin:0 auto;padding:20px 24px 48px}
header h1{margin:0 0 6px;font-size:24px;word-break:break-word}
nav a{margin-right:14px;color:var(--info);text-decoration:none}
h2{font-size:19px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:30px}
h3{font-size:15px;margin:10px 0 6px}
h4{font-size:13px;margin:12px 0 4px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.verdict{display:inline-block;padding:6px 14px;border-radius:18px;color:#fff;font-weight:600;font-size:16px}
.verdict.healthy{background:var(--ok)}.verdict.sick{background:var(--error)}.verdict.warn{background:var(--warning)}
.sub{color:var(--muted);margin:6px 0}
.cols{display:flex;flex-wrap:wrap;gap:28px}.cols>div{min-width:260px}
table{border-collapse:collapse;font-size:13px}
th,td{text-align:left;padding:3px 10px 3px 0;vertical-align:top;border-bottom:1px solid var(--line)}
th{font-weight:600;color:var(--muted)}
td{font-variant-numeric:tabular-nums;word-break:break-word}
table.index{width:100%;margin-bottom:14px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.badge.sev-error{background:var(--error)}.badge.sev-warning{background:var(--warning)}.badge.sev-info{background:var(--info)}
.finding{background:var(--card);border-left:5px solid var(--info);border-radius:6px;padding:8px 16px 12px;margin:14px 0}
.finding.sev-error{border-color:var(--error)}.finding.sev-warning{border-color:var(--warning)}
.finding .code{font-family:ui-monospace,Menlo,Consolas,monospace}
.finding .meaning{font-weight:400;color:var(--muted);font-size:13px}
.meta{color:var(--muted);margin:2px 0}.message{font-size:14.5px;margin:6px 0}
table.evidence caption{text-align:left;font-weight:600;color:var(--muted);padding:4px 0}
pre{background:#272b33;color:#e8eaf0;padding:8px 12px;border-radius:5px;overflow-x:auto;font-size:12.5px;margin:4px 0 8px}
.lbl{font-size:12px;color:var(--muted)}
.remedies li{margin-bottom:8px}.rcode{color:var(--muted);font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:6px}
.empty,.note{color:var(--muted);font-style:italic}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media print{nav{display:none}.finding{break-inside:avoid}}
"""
