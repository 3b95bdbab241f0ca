{{ stg_data_attributes('COMPANY_ATTRIBUTES') }}
