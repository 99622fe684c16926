"""Plans across futures, in one place: the stations added stage by stage on growing
demand (``[optimize.staging]``, :mod:`~siting.futures.staging`), the plan that holds
up across demand futures and the sensitivity of the plan to each assumption
(``[futures]``, :mod:`~siting.futures.robust`), and their files and summary lines
(:mod:`~siting.futures.report`). The models they solve are the solver library's
(:mod:`siting.optimize.futures`).
"""
