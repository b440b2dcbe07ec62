# The Cardiotocography set of tests/peers.rs, read as oddity::data::wheels::ctg reads the raw
# UCI sheet (each feature's last column of that name; NSP = 3 the anomalies), and PyOD 3.6.7's
# defaults on it, with scikit-learn's standardised OneClassSVM and PCA statistic beside.
# Needs numpy, scikit-learn and pyod, and the sheet: python3 benches/peers/pyod_ctg.py CTG.CSV
import sys, time
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score
FEATURES = ["LB", "AC", "FM", "UC", "DL", "DS", "DP", "ASTV", "MSTV", "ALTV", "MLTV", "Width",
            "Min", "Max", "Nmax", "Nzeros", "Mode", "Mean", "Median", "Variance", "Tendency"]
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
header = [h.strip() for h in lines[0].split(',')]
last = lambda n: max(i for i, h in enumerate(header) if h == n)
cols, nsp = [last(n) for n in FEATURES], last("NSP")
cells = [l.split(',') for l in lines[1:]]
X = np.array([[float(c[j]) for j in cols] for c in cells])
a = np.array([int(c[nsp].strip() == "3") for c in cells])
print('rows', X.shape, 'anomalies', a.sum(), 'constant columns', int((X.std(0) == 0).sum()))
from pyod.models.pca import PCA
from pyod.models.iforest import IForest
from pyod.models.ocsvm import OCSVM
for name, m in [('PCA', PCA()), ('OCSVM', OCSVM())]:
    t = time.time(); m.fit(X); t = time.time() - t
    s = m.decision_scores_
    if not np.isfinite(s).all():
        print(name, 'fails:', int((~np.isfinite(s)).sum()), 'scores are not finite')
        continue
    print(name, round(roc_auc_score(a, s), 4), round(average_precision_score(a, s), 4), round(t, 3))
au = []
for seed in range(5):
    t = time.time(); m = IForest(random_state=seed).fit(X); t = time.time() - t
    s = m.decision_scores_
    au.append(roc_auc_score(a, s))
    print('IForest', seed, round(au[-1], 4), round(average_precision_score(a, s), 4), round(t, 3))
print('IForest mean', round(np.mean(au), 4))
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM
from sklearn.decomposition import PCA as SPCA
Z = StandardScaler().fit_transform(X)
s = -OneClassSVM(nu=0.5, gamma=1 / X.shape[1]).fit(Z).decision_function(Z)
print('sklearn standardised OneClassSVM', round(roc_auc_score(a, s), 4))
p = SPCA().fit(Z); P = Z @ p.components_.T; ev = p.explained_variance_
keep = ev > 1e-6 * ev[0]
print('sklearn standardised PCA statistic', round(roc_auc_score(a, (P[:, keep] ** 2 / ev[keep]).sum(1)), 4))
