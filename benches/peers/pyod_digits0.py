# The digits set of tests/peers.rs, built the same way, and PyOD 3.6.7's defaults on it, with
# scikit-learn's standardised OneClassSVM and PCA statistic beside (what oddity computes).
# Needs numpy, scikit-learn and pyod (not the project's tests): python3 benches/peers/pyod_digits0.py
import numpy as np, time
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score, average_precision_score
d = load_digits()
X, y = d.data, d.target
zeros = np.where(y == 0)[0]
keep0 = zeros[np.arange(len(zeros)) % 10 == 0]
rows = np.sort(np.concatenate([np.where(y != 0)[0], keep0]))
X, a = X[rows], (y[rows] == 0).astype(int)
X = X[:, X.std(0) > 0]
print('rows', X.shape, 'anomalies', a.sum())
from pyod.models.pca import PCA
from pyod.models.iforest import IForest
from pyod.models.ocsvm import OCSVM
for name, m in [('PCA', PCA()), ('OCSVM', OCSVM())]:
    t = time.time(); m.fit(X); t = time.time() - t
    s = m.decision_scores_
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
s = (P[:, keep] ** 2 / ev[keep]).sum(1)
print('sklearn standardised PCA statistic', round(roc_auc_score(a, s), 4))
