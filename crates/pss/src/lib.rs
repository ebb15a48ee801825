//! PSS, the Personal Support System (`specs/002_9a60ab9a44f40200.txt`).
