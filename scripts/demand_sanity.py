"""Sanity check of the residents' segment against an independent source.

Compares the district shares of the residents' segment (official district totals, as
the pipeline uses them) and of the raw 500 m population grid (before rescaling) with
the night-time occupants of the GEM earthquake-exposure model
(``population/gem-exposure-district-totals.csv``), and prints the Pearson and Spearman
correlations.

Usage::

    .venv/bin/python scripts/demand_sanity.py [SCENARIO]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

from siting import settings
from siting._io import read_table, read_vector
from siting.demand import population_by_district
from siting.scenario import load_scenario

#: GEM column names → district names of the OSM district layer (Medeu is split in two).
GEM_DISTRICTS = {
    "almaly": "Almaly",
    "alatau": "Alatau",
    "auezov": "Auezov",
    "bostandyk": "Bostandyq",
    "jetysu": "Zhetysu",
    "medeusouth": "Medeu",
    "medeunorth": "Medeu",
    "nauryzbay": "Nauryzbay",
    "turksib": "Turksib",
}


def main() -> None:
    scenario = load_scenario(sys.argv[1] if len(sys.argv) > 1 else settings.DEFAULT_SCENARIO)
    dc = scenario.demand
    gem_path = scenario.data_path / "population" / "gem-exposure-district-totals.csv"
    gem = pd.read_csv(gem_path).set_index("measure").loc["Total occupants"]
    gem = gem.rename(index=GEM_DISTRICTS).groupby(level=0).sum().astype(float)

    pop_path = scenario.resolve(dc.population, field="demand.population")
    d_path = scenario.resolve(dc.districts, field="demand.districts")
    t_path = scenario.resolve(dc.district_totals, field="demand.district_totals")
    assert pop_path and d_path and t_path and dc.population_column
    population = read_vector(pop_path, field="demand.population", column=dc.population_column)
    districts = read_vector(d_path, field="demand.districts", column=dc.district_column)
    totals = read_table(t_path, field="demand.district_totals", columns=["district", "population"])
    official = totals.set_index("district")["population"].astype(float)
    raw = population_by_district(
        population, dc.population_column, districts, district_column=dc.district_column
    )
    raw_by = raw.groupby("district")["pop"].sum()
    scaled = population_by_district(
        population,
        dc.population_column,
        districts,
        district_column=dc.district_column,
        totals=official,
    )
    residents = scaled.groupby("district")["pop"].sum()

    table = pd.DataFrame(
        {
            "residents_segment": residents / residents.sum(),
            "raw_grid": raw_by / raw_by.sum(),
            "gem_occupants": gem / gem.sum(),
        }
    ).dropna()
    print(f"District shares ({len(table)} districts); GEM: {gem_path.name}, night-time occupants")
    print((100 * table).round(1).to_string())
    for col in ("residents_segment", "raw_grid"):
        r, p = pearsonr(table[col], table["gem_occupants"])
        rho, _ = spearmanr(table[col], table["gem_occupants"])
        mad = float(np.abs(table[col] - table["gem_occupants"]).mean())
        print(
            f"{col:>18} vs GEM: Pearson r = {r:.3f} (p = {p:.3f}), Spearman rho = {rho:.3f}, "
            f"mean abs. share difference = {100 * mad:.1f} points"
        )


if __name__ == "__main__":
    main()
