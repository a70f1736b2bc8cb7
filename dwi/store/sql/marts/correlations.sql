-- correlations: one row per pair and scope (pairs in dwi/reference/correlation_pairs.yaml; written by
-- dwi/correlations.py; `dwi correlate X Y` computes any other pair the same way).
--   x_indicator, y_indicator  the pair
--   scope              national (the country's annual series, matched by year) | regions (cross-section
--                      of the regions, national total row excluded)
--   observations_used  each year/region used, with the origin of x and y ('derived/<source>' = computed
--                      by dwi from that source; '(P)' = provisional)
--   n                  number of observations
--   pearson_r, pearson_p, pearson_ci_low, pearson_ci_high: scipy.stats.pearsonr, 95% Fisher-z interval
--                      (NULL when n < 3; the interval NULL when n < 4)
--   spearman_rho, spearman_p: scipy.stats.spearmanr
--   diff_pearson_r, diff_n: national only; Pearson r on year-on-year differences (consecutive years,
--                      same origin at both ends)
--   flags              small sample (n < 8); trending (levels and differences r disagree: opposite
--                      signs or |difference| > 0.5); influential point (leaving one year/region out flips
--                      the sign or crosses p = 0.05, named); mixed sources; reference periods differ
--   diff_pearson_p, diff_observations (years of the differences), x_reference, y_reference (years or
--   reference period), why (the reason the pair is computed)
CREATE OR REPLACE VIEW correlations AS
SELECT x_indicator, y_indicator, scope, observations_used, n, pearson_r, pearson_p, pearson_ci_low,
       pearson_ci_high, spearman_rho, spearman_p, diff_pearson_r, diff_n, flags,
       diff_pearson_p, diff_observations, x_reference, y_reference, why
FROM _correlations;
