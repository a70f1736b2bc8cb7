-- correlations: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW correlations AS
SELECT x_indicator, y_indicator, scope, observations_used, n, pearson_r, pearson_p, pearson_ci_low,
       pearson_ci_high, spearman_rho, spearman_p, diff_pearson_r, diff_n, flags,
       diff_pearson_p, diff_observations, x_reference, y_reference, why
FROM _correlations;
