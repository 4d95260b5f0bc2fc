"""Run reports: convergence curves with swap and spike markers, as PNGs and a page."""
