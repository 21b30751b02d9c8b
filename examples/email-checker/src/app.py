# Seed 004's confidential app, as in the tutorial: reads the dataset (an .xlsx) with xlrd 1.2.0
# and tells whether the email given as requester secret 1 is in its third column.
import json
import os

import xlrd

iexec_out = os.environ["IEXEC_OUT"]
iexec_in = os.environ["IEXEC_IN"]
dataset_filename = os.environ["IEXEC_DATASET_FILENAME"]

try:
    secret_email = os.environ["IEXEC_REQUESTER_SECRET_1"]
except KeyError:
    print("no requester secret 1")
    exit(11)

text = "This email is safe! \n"
try:
    workbook = xlrd.open_workbook(os.path.join(iexec_in, dataset_filename))
    worksheet = workbook.sheet_by_index(0)
    for i in range(1, worksheet.nrows):
        if worksheet.cell_value(i, 2).lower() == secret_email.lower():
            text = "This email is compromised! \n"
            break
except OSError as e:
    print("cannot read the dataset:", e)
    exit(3)

print("checked", worksheet.nrows - 1, "rows")
with open(os.path.join(iexec_out, "result.txt"), "w+") as fout:
    fout.write(text)
with open(os.path.join(iexec_out, "computed.json"), "w+") as f:
    json.dump({"deterministic-output-path": os.path.join(iexec_out, "result.txt")}, f)
