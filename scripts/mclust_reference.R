# Log-likelihoods of R's mclust for the data sets of scripts/compare_starts.py.
#
# Run in the directory where `python scripts/compare_starts.py --export DIR`
# wrote the data sets; fits every <name>.csv file there, or the names given as
# arguments, and writes mclust_ll.csv (data, cov, k, loglik) there.
# mclust's models: VII = spherical, VVI = diag, EEE = tied, VVV = full; with one
# feature, V (full, diag and spherical alike) and E (tied). Its default start
# (hierarchical clustering on the SVD-transformed data).
suppressMessages(library(mclust))
names <- commandArgs(trailingOnly = TRUE)
if (length(names) == 0) {
  names <- sub("\\.csv$", "", setdiff(list.files(pattern = "\\.csv$"), "mclust_ll.csv"))
}
out <- data.frame()
for (name in names) {
  X <- as.matrix(read.csv(paste0(name, ".csv"), header = FALSE))
  models <- if (ncol(X) == 1) {
    c(spherical = "V", diag = "V", tied = "E", full = "V")
  } else {
    c(spherical = "VII", diag = "VVI", tied = "EEE", full = "VVV")
  }
  for (ct in names(models)) {
    bic <- mclustBIC(X, G = 1:9, modelNames = models[[ct]], verbose = FALSE)
    for (k in 1:9) {
      fit <- tryCatch(Mclust(X, G = k, modelNames = models[[ct]], x = bic, verbose = FALSE),
                      error = function(e) NULL)
      loglik <- if (is.null(fit)) NA else fit$loglik
      out <- rbind(out, data.frame(data = name, cov = ct, k = k, loglik = loglik))
    }
  }
}
write.csv(out, "mclust_ll.csv", row.names = FALSE)
