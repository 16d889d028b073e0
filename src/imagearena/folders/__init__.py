"""The folder ranker's file work, with no database: which files of a folder are images (headers only),
the one resolver through which a name from a request becomes a file inside the folder, the prompts of
the images, the lazy thumbnail cache kept outside the folder, and the CSV and JSON Lines formats of
rankings and decision logs (ours and Image Ranker's).

Nothing here writes inside the folder; exports write where they are told to.
"""
