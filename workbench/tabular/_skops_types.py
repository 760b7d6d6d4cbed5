"""The exact skops node types our registry's scikit-learn pipelines consist of.

A skops file holding any other type, or any function reference, is refused before anything is built
(see :func:`workbench.models.flavors.load_skops`). A test fits every registry pipeline on real data
(binary, multiclass, boolean and integer targets), saves it, and checks its nodes are all listed here;
a new model in the registry that needs another type adds it here, reviewed.
"""

from __future__ import annotations

SKOPS_ALLOWED: frozenset[str] = frozenset({
    "LossNode sklearn._loss._loss.CyHalfBinomialLoss",
    "LossNode sklearn._loss._loss.CyHalfMultinomialLoss",
    "ObjectNode sklearn._loss.link.Interval",
    "ObjectNode sklearn._loss.link.LogitLink",
    "ObjectNode sklearn._loss.link.MultinomialLogit",
    "ObjectNode sklearn._loss.loss.HalfBinomialLoss",
    "ObjectNode sklearn._loss.loss.HalfMultinomialLoss",
    "ObjectNode sklearn.compose._column_transformer.ColumnTransformer",
    "ObjectNode sklearn.dummy.DummyClassifier",
    "ObjectNode sklearn.ensemble._forest.RandomForestClassifier",
    "ObjectNode sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "ObjectNode sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "ObjectNode sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "ObjectNode sklearn.impute._base.SimpleImputer",
    "ObjectNode sklearn.linear_model._logistic.LogisticRegression",
    "ObjectNode sklearn.pipeline.Pipeline",
    "ObjectNode sklearn.preprocessing._data.StandardScaler",
    "ObjectNode sklearn.preprocessing._encoders.OneHotEncoder",
    "ObjectNode sklearn.preprocessing._label.LabelEncoder",
    "ObjectNode sklearn.tree._classes.DecisionTreeClassifier",
    "RandomGeneratorNode numpy.random._generator.Generator",
    "TreeNode sklearn.tree._tree.Tree",
})
