"""Domain icons (inline SVG) for the banner of the HTML license and the badge.

Simple line icons on a 24x24 grid, drawn by the railtrack authors. A domain without an
icon of its own (e.g. one added by a plugin) gets a circle with its initial.
"""

from __future__ import annotations

from html import escape

__all__ = ["DOMAIN_COLORS", "icon_svg", "ICON_PATHS"]

#: stroke paths per built-in domain (24x24 viewBox, stroke only)
ICON_PATHS: dict[str, str] = {
    "general": "M12 3 L22 20 H2 Z M12 9 V14 M12 17 V17.5",
    "discrimination": "M5 9 H19 M5 15 H19 M16 5 L8 19",
    "disinformation": "M4 5 H20 V16 H10 L6 20 V16 H4 Z M10 9 Q12 6.5 14 9 Q14 10.5 12 11 V12.5 M12 14 V14.5",
    "legal": "M12 4 V20 M7 20 H17 M5 7 H19 M5 7 L2.5 13 H7.5 Z M19 7 L16.5 13 H21.5 Z",
    "privacy": "M6 11 H18 V20 H6 Z M8.5 11 V8 A3.5 3.5 0 0 1 15.5 8 V11 M12 14.5 V16.5",
    "health": "M9.5 4 H14.5 V9.5 H20 V14.5 H14.5 V20 H9.5 V14.5 H4 V9.5 H9.5 Z",
    "military": "M12 3 L19 6 V11 C19 16 16 19 12 21 C8 19 5 16 5 11 V6 Z M12 8 L13.2 11 H16 L13.7 12.8 L14.6 16 "
                "L12 14 L9.4 16 L10.3 12.8 L8 11 H10.8 Z",
    "weapons": "M12 4 A8 8 0 1 0 12.01 4 M12 2 V7 M12 17 V22 M2 12 H7 M17 12 H22",
    "malware": "M8 9 H16 V16 A4 4 0 0 1 8 16 Z M9.5 9 A2.5 2.5 0 0 1 14.5 9 M8 12 H4 M8 15 H4 M16 12 H20 M16 15 H20 "
               "M12 9 V20",
    "biometrics": "M12 3 A9 9 0 0 1 21 12 M3 12 A9 9 0 0 1 8 4 M6 18 A7.5 7.5 0 0 1 12 6 A6 6 0 0 1 18 12 V15 "
                  "M9 20 A9 9 0 0 0 12 12 M12 12 A3 3 0 0 1 15 12 V14 A9 9 0 0 1 13 20",
    "critical-infrastructure": "M13 2 L5 13 H11 L10 22 L19 10 H13 Z",
    "child-safety": "M12 3.5 A2.5 2.5 0 1 0 12.01 3.5 M8 10 H16 L14.5 15 V21 M9.5 15 V21 M8 10 L9.5 15 M12 15 V21",
    "research": "M9 3 H15 M10 3 V9 L4.5 19 A1.5 1.5 0 0 0 6 21 H18 A1.5 1.5 0 0 0 19.5 19 L14 9 V3 M7 15 H17",
}

DOMAIN_COLORS: dict[str, str] = {
    "general": "#5b6770",
    "discrimination": "#8e44ad",
    "disinformation": "#d35400",
    "legal": "#2c3e50",
    "privacy": "#16a085",
    "health": "#c0392b",
    "military": "#4b5320",
    "weapons": "#7f1d1d",
    "malware": "#1f6f43",
    "biometrics": "#1d4ed8",
    "critical-infrastructure": "#b7791f",
    "child-safety": "#0e7490",
    "research": "#6b21a8",
}


def icon_svg(domain: str, label: str, size: int = 40) -> str:
    """An inline ``<svg>`` for ``domain`` with an accessible ``label`` (escaped)."""
    color = DOMAIN_COLORS.get(domain, "#444444")
    path = ICON_PATHS.get(domain)
    label_e = escape(label, quote=True)
    if path is None:
        initial = escape((label.strip()[:1] or "?").upper())
        body = (f'<circle cx="12" cy="12" r="9" fill="none" stroke="{color}" stroke-width="1.8"/>'
                f'<text x="12" y="16" text-anchor="middle" font-family="sans-serif" font-size="10" '
                f'fill="{color}">{initial}</text>')
    else:
        body = (f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8" '
                f'stroke-linecap="round" stroke-linejoin="round"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="{size}" height="{size}" '
            f'role="img" aria-label="{label_e}"><title>{label_e}</title>{body}</svg>')
